// Multiplies two matrices with optkern and checks the result against a plain loop.
#include <optkern/optkern.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
  const optkern::index_t m = 37, k = 23, n = 41;
  std::vector<double> a(m * k), b(k * n), c(m * n);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = std::sin(double(i));
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = std::cos(double(i));

  optkern::bmm<double>(1, m, n, k, a.data(), b.data(), c.data());

  double worst = 0;
  for (optkern::index_t i = 0; i < m; ++i)
    for (optkern::index_t j = 0; j < n; ++j) {
      double sum = 0;
      for (optkern::index_t p = 0; p < k; ++p) sum += a[i * k + p] * b[p * n + j];
      worst = std::fmax(worst, std::fabs(sum - c[i * n + j]));
    }
  std::printf("optkern %s (SIMD level %s): max error %.3g\n", OPTKERN_VERSION_STRING,
              optkern::simd_level().c_str(), worst);
  return worst < 1e-12 ? 0 : 1;
}
