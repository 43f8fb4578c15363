// A vectorised exp for the SIMD vectors of simd.hpp (float and double lanes, any width).
//
// exp(x) = 2^n * e^r with n = round(x / ln 2) and r = x - n ln 2 (Cody-Waite: ln 2 split in
// a high part exact in n * ln2_hi and a low correction), |r| <= ln(2)/2. e^r = 1 + r + r^2 q(r)
// with q a near-minimax polynomial (a Chebyshev fit in 50-digit arithmetic, degree 9 for
// double, 4 for float; relative error 1.6e-17 and 9.7e-9 on the interval), evaluated by
// Horner's rule with FMAs (independent vectors overlap in the pipeline; Estrin's scheme was
// measured slower and less accurate here). Measured against a long-double reference
// (tests/cpp/test_simd_exp.cpp): at most 1.03 ulp in double and 1.02 ulp in float; about
// 1.6 ns per double on one AVX2 core (4 lanes).
//
// Range: 2^n is applied as two factors 2^(n/2) * 2^(n - n/2), both normal numbers, so results
// down to the smallest subnormal round gradually (one rounding) instead of flushing or wrapping
// the exponent field; below that the result is +0, above the largest finite double it is +inf.
// exp(-inf) = 0, exp(+inf) = inf, exp(NaN) = NaN.
//
// Only integer operations that AVX2 has (shifts and adds of 64-bit lanes; no double <-> int64
// conversions, which AVX2 lacks) are used: n is read out of the mantissa of n + 1.5 * 2^52.
#pragma once

#include <cstdint>
#include <cstring>

#include "simd.hpp"

namespace optkern::detail {

template <class T>
struct ExpConstants;

template <>
struct ExpConstants<double> {
  using Int = std::int64_t;
  static constexpr int kMantissaBits = 52;
  static constexpr Int kBias = 1023;
  static constexpr double kLog2e = 1.4426950408889634074;
  static constexpr double kLn2Hi = 6.93147180369123816490e-01;  // 32 significant bits
  static constexpr double kLn2Lo = 1.90821492927058770002e-10;
  static constexpr double kShifter = 6755399441055744.0;  // 1.5 * 2^52: rounds to an integer
  // Beyond these the result is exactly inf or rounds to +0 (exp(-745.14) < 2^-1075).
  static constexpr double kMax = 709.79;
  static constexpr double kMin = -745.2;
  // q(r) = (e^r - 1 - r) / r^2 ~ sum_k kQ[k] r^k on [-ln2/2, ln2/2].
  static constexpr int kQDegree = 9;
  static constexpr double kQ[kQDegree + 1] = {
      0.5000000000000001,     0.16666666666666669,    0.041666666666624164,
      0.008333333333330065,   0.0013888888917196719,  0.00019841269863040545,
      2.4801521322368692e-05, 2.7557268480310024e-06, 2.7620075879983367e-07,
      2.5100375832561234e-08};
};

template <>
struct ExpConstants<float> {
  using Int = std::int32_t;
  static constexpr int kMantissaBits = 23;
  static constexpr Int kBias = 127;
  static constexpr float kLog2e = 1.44269504088896341f;
  static constexpr float kLn2Hi = 0.693359375f;  // 9 significant bits (Cephes)
  static constexpr float kLn2Lo = -2.12194440e-4f;
  static constexpr float kShifter = 12582912.0f;  // 1.5 * 2^23
  static constexpr float kMax = 88.73f;
  static constexpr float kMin = -103.98f;
  static constexpr int kQDegree = 4;
  static constexpr float kQ[kQDegree + 1] = {0.5f, 0.16666578f, 0.041666556f, 0.008363173f,
                                              0.0013926176f};
};

// Lane-wise select: mask lanes are all ones (true) or all zeros, as vector comparisons give.
template <class V, class M>
inline V select(M mask, V if_true, V if_false) {
  M t, f;
  std::memcpy(&t, &if_true, sizeof(V));
  std::memcpy(&f, &if_false, sizeof(V));
  const M bits = (mask & t) | (~mask & f);
  V out;
  std::memcpy(&out, &bits, sizeof(V));
  return out;
}

// The integer vector type with the lanes of V (same total size).
template <class T, int Bytes>
struct SimdInt {
  typedef typename ExpConstants<T>::Int type __attribute__((vector_size(Bytes)));
};

// exp of every lane of x; V is SimdVec<T, Bytes>::type.
template <class T, int Bytes>
inline typename SimdVec<T, Bytes>::type exp_vec(typename SimdVec<T, Bytes>::type x) {
  using V = typename SimdVec<T, Bytes>::type;
  using I = typename SimdInt<T, Bytes>::type;
  using C = ExpConstants<T>;
  constexpr int lanes = Bytes / int(sizeof(T));
  V hi = {}, lo = {};
  for (int l = 0; l < lanes; ++l) {
    hi[l] = C::kMax;
    lo[l] = C::kMin;
  }
  // Clamp: one min and one max instruction; NaN compares false, passes, then propagates.
  x = x > hi ? hi : x;
  x = lo > x ? lo : x;

  // n = round(x log2 e), as a float holding an integer.
  const V shifted = x * C::kLog2e + C::kShifter;
  const V n = shifted - C::kShifter;
  V r = x - n * C::kLn2Hi;
  r = r - n * C::kLn2Lo;

  // e^r = 1 + (r + r^2 q(r)); the small part is summed first, so the last rounding is the
  // only one at the scale of the result.
  const V r2 = r * r;
  V q = r * C::kQ[C::kQDegree] + C::kQ[C::kQDegree - 1];
  for (int k = C::kQDegree - 2; k >= 0; --k) q = q * r + C::kQ[k];  // unrolled by the compiler
  const V p = (r2 * q + r) + T(1);

  // 2^n = 2^n1 * 2^n2 with n1 = floor(n / 2): both factors are normal numbers even when 2^n
  // is subnormal or overflows, so the product rounds once, correctly. Each factor's bits are
  // (n_k + bias) << mantissa_bits, with n_k + bias read from the mantissa of n_k + bias +
  // 1.5 * 2^mantissa_bits (the shift drops the exponent field of the shifter).
  const V n1 = (n * T(0.5) - T(0.25) + C::kShifter) - C::kShifter;  // floor(n / 2)
  const V n2 = n - n1;
  const V e1 = n1 + (T(C::kBias) + C::kShifter);
  const V e2 = n2 + (T(C::kBias) + C::kShifter);
  I b1, b2;
  std::memcpy(&b1, &e1, sizeof(V));
  std::memcpy(&b2, &e2, sizeof(V));
  b1 = b1 << C::kMantissaBits;
  b2 = b2 << C::kMantissaBits;
  V s1, s2;
  std::memcpy(&s1, &b1, sizeof(V));
  std::memcpy(&s2, &b2, sizeof(V));
  return (p * s1) * s2;
}

// The scalar version of the same algorithm (same results as one lane of exp_vec).
template <class T>
inline T exp_scalar(T x) {
  using V = typename SimdVec<T, 16>::type;
  V v = {};
  v[0] = x;
  return exp_vec<T, 16>(v)[0];
}

}  // namespace optkern::detail
