// optkern::bmm against a naive triple loop: sizes around every block edge, strides, threads.
#include <cmath>
#include <random>
#include <vector>

#include "check.hpp"
#include "optkern/linalg.hpp"

using optkern::index_t;

template <class T>
double max_error(index_t batch, index_t m, index_t n, index_t k, int threads) {
  std::mt19937 gen(unsigned(m * 131 + n * 7 + k));
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::vector<T> a(std::size_t(batch * m * k)), b(std::size_t(batch * k * n));
  std::vector<T> c(std::size_t(batch * m * n), T(-7));
  for (auto& x : a) x = T(uniform(gen));
  for (auto& x : b) x = T(uniform(gen));
  optkern::bmm<T>(batch, m, n, k, a.data(), b.data(), c.data(), threads);
  double worst = 0;
  for (index_t s = 0; s < batch; ++s)
    for (index_t i = 0; i < m; ++i)
      for (index_t j = 0; j < n; ++j) {
        double sum = 0;
        for (index_t p = 0; p < k; ++p)
          sum += double(a[std::size_t((s * m + i) * k + p)]) * b[std::size_t((s * k + p) * n + j)];
        worst = std::max(worst, std::abs(sum - c[std::size_t((s * m + i) * n + j)]));
      }
  return worst;
}

int main() {
  const index_t sizes[][4] = {{1, 1, 1, 1},   {3, 4, 4, 4},    {5, 7, 5, 3},   {2, 16, 16, 16},
                              {2, 13, 31, 9}, {1, 127, 65, 300}, {4, 8, 24, 0}, {1, 3, 2050, 5},
                              {3, 70, 90, 40}};
  for (const auto& s : sizes)
    for (int threads : {1, 2}) {
      CHECK(max_error<double>(s[0], s[1], s[2], s[3], threads) < 1e-12);
      CHECK(max_error<float>(s[0], s[1], s[2], s[3], threads) < 1e-4);
    }

  // Broadcast A over a batch of B, and a transposed (column-major) B, through the strided API.
  {
    const index_t m = 3, k = 4, n = 5, batch = 2;
    std::vector<double> a(m * k), b(batch * n * k), c(batch * m * n);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = double(i) - 5.0;
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = 0.25 * double(i % 7);
    optkern::BatchShape shape;
    shape.ndim = 1;
    shape.extent[0] = batch;
    optkern::MatrixBatch<const double> va{a.data(), m, k, k, 1, {0}};
    optkern::MatrixBatch<const double> vb{b.data(), k, n, 1, k, {n * k}};  // B[s] = stored^T
    optkern::MatrixBatch<double> vc{c.data(), m, n, n, 1, {m * n}};
    optkern::bmm<double>(shape, va, vb, vc);
    for (index_t s = 0; s < batch; ++s)
      for (index_t i = 0; i < m; ++i)
        for (index_t j = 0; j < n; ++j) {
          double sum = 0;
          for (index_t p = 0; p < k; ++p) sum += a[i * k + p] * b[s * n * k + j * k + p];
          CHECK(std::abs(sum - c[(s * m + i) * n + j]) < 1e-12);
        }
  }

  // Eigen front end.
  {
    optkern::RowMatrix<double> a = optkern::RowMatrix<double>::Random(9, 6);
    optkern::RowMatrix<double> b = optkern::RowMatrix<double>::Random(6, 11);
    optkern::RowMatrix<double> c(9, 11);
    optkern::matmul<double>(a, b, c);
    CHECK((c - a * b).cwiseAbs().maxCoeff() < 1e-12);
  }

  // Bad sizes name the argument.
  std::vector<double> x(16);
  CHECK(optkern_test::throws_invalid_argument(
      [&] { optkern::bmm<double>(-1, 2, 2, 2, x.data(), x.data(), x.data()); }, "batch:"));
  CHECK(optkern_test::throws_invalid_argument(
      [&] {
        optkern::BatchShape shape;
        optkern::MatrixBatch<const double> a{x.data(), 2, 3, 3, 1, {}};
        optkern::MatrixBatch<const double> b{x.data(), 2, 2, 2, 1, {}};
        optkern::MatrixBatch<double> c{x.data(), 2, 2, 2, 1, {}};
        optkern::bmm<double>(shape, a, b, c);
      },
      "b:"));

  if (optkern_test::failures() == 0) std::printf("test_bmm: all checks passed\n");
  return optkern_test::failures() == 0 ? 0 : 1;
}
