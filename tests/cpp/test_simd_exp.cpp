// optkern::detail::exp_vec against std::exp in long double: ulp error on a dense sweep of the
// normal range, the subnormal range, the overflow edge, and the special values.
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>

#include "check.hpp"
#include "../../cpp/src/common/simd_exp.hpp"  // internal header, not installed

using optkern::detail::exp_scalar;
using optkern::detail::exp_vec;
using optkern::detail::kSimdBytes;
using optkern::detail::SimdVec;

// |got - want| in units of the last place of want (the spacing of T at want).
template <class T>
double ulp_error(T got, long double want) {
  if (want == 0) return got == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  const T w = T(want);
  const T spacing = std::nextafter(w, std::numeric_limits<T>::infinity()) - w;
  const T step = spacing > 0 ? spacing : std::numeric_limits<T>::denorm_min();
  return double(std::fabs((long double)got - want) / (long double)step);
}

template <class T>
double worst_ulp(T lo, T hi, int samples) {
  using V = typename SimdVec<T, kSimdBytes>::type;
  constexpr int lanes = kSimdBytes / int(sizeof(T));
  std::mt19937_64 gen(42);
  std::uniform_real_distribution<double> uniform{double(lo), double(hi)};
  double worst = 0;
  for (int s = 0; s < samples; s += lanes) {
    V x;
    for (int l = 0; l < lanes; ++l) x[l] = T(uniform(gen));
    const V y = exp_vec<T, kSimdBytes>(x);
    for (int l = 0; l < lanes; ++l) {
      const double e = ulp_error<T>(y[l], std::exp((long double)x[l]));
      if (e > worst) worst = e;
    }
  }
  return worst;
}

template <class T>
void check_special_values() {
  const T inf = std::numeric_limits<T>::infinity();
  CHECK(exp_scalar<T>(T(0)) == T(1));
  CHECK(exp_scalar<T>(-inf) == T(0));
  CHECK(exp_scalar<T>(inf) == inf);
  CHECK(std::isnan(exp_scalar<T>(std::numeric_limits<T>::quiet_NaN())));
  CHECK(exp_scalar<T>(T(-1e4)) == T(0));
  CHECK(exp_scalar<T>(T(1e4)) == inf);
  // The largest finite result and the first that overflows.
  const T log_max = std::log(std::numeric_limits<T>::max());
  CHECK(std::isfinite(exp_scalar<T>(std::nextafter(log_max, T(0)))));
  CHECK(exp_scalar<T>(log_max * T(1.0001)) == inf);
  // Subnormal results are graded (not flushed to zero, exponent not wrapped).
  const T log_min_normal = std::log(std::numeric_limits<T>::min());
  const T sub = exp_scalar<T>(log_min_normal - T(5));
  CHECK(sub > 0 && sub < std::numeric_limits<T>::min());
  CHECK(ulp_error<T>(sub, std::exp((long double)(log_min_normal - T(5)))) <= 1.0);
  // exp is monotone across the reduction boundaries.
  T prev = 0;
  bool monotone = true;
  for (int i = -4000; i <= 4000; ++i) {
    const T y = exp_scalar<T>(T(i) * T(0.01));
    if (y < prev) monotone = false;
    prev = y;
  }
  CHECK(monotone);
}

int main() {
  const double ulp_d = worst_ulp<double>(-708.0, 709.0, 400000);
  const double ulp_d_small = worst_ulp<double>(-2.0, 2.0, 400000);
  const double ulp_f = worst_ulp<float>(-87.0f, 88.0f, 400000);
  const double ulp_f_small = worst_ulp<float>(-2.0f, 2.0f, 400000);
  std::printf("worst ulp: double %.3f (|x|<2: %.3f), float %.3f (|x|<2: %.3f)\n", ulp_d,
              ulp_d_small, ulp_f, ulp_f_small);
  // Measured 1.026, 1.023, 1.015 and 0.930 (the last rounding alone is 0.5 ulp).
  CHECK(ulp_d <= 1.05);
  CHECK(ulp_d_small <= 1.05);
  CHECK(ulp_f <= 1.05);
  CHECK(ulp_f_small <= 1.05);
  // Subnormal outputs: within one subnormal step of the true value.
  const double ulp_d_sub = worst_ulp<double>(-745.0, -709.0, 40000);
  const double ulp_f_sub = worst_ulp<float>(-103.0f, -88.0f, 40000);
  std::printf("subnormal range: double %.3f, float %.3f (units of the subnormal step)\n",
              ulp_d_sub, ulp_f_sub);
  CHECK(ulp_d_sub <= 1.0);
  CHECK(ulp_f_sub <= 1.0);
  check_special_values<double>();
  check_special_values<float>();
  return optkern_test::failures();
}
