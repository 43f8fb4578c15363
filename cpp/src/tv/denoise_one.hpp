// The exact 1-D TV prox of one signal on the CPU: Condat's direct algorithm
// (detail/tv_condat.hpp) within a budget of steps, else the taut string
// (detail/tv_taut_string.hpp), which is linear in the worst case. Shared by the scalar solver
// (denoise.cpp) and the weighted one (weighted.cpp, for equal weights).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "chain_memory.hpp"
#include "common/simd.hpp"
#include "optkern/detail/tv_condat.hpp"
#include "optkern/detail/tv_taut_string.hpp"

namespace optkern::tv_detail {

// When Condat's direct algorithm gives up for the taut string: once its rescans exceed
// kCondatSlack + kCondatRate per decided sample. At small lam it rescans almost nothing and
// runs 2-7x faster than the taut string; past about 3 rescans per sample (long segments,
// large lam) the taut string is faster, and the early test wastes little on the way.
constexpr index_t kCondatSlack = 256, kCondatRate = 3;
// Nor does it start where lam exceeds kCondatReach mean steps |x_k+1 - x_k|: segments are then
// long, and it would rescan them until it gave up (measured on walks, blocks, noise and sines
// plus noise: it won up to 30 mean steps, 2x on blocks, and lost from 36 on, by 1.2-2x).
constexpr double kCondatReach = 33;
constexpr index_t kCondatProbe = 4096;  // the mean step is taken over the first samples only

// sum_k |x_k| over k < n (steps = 0) or sum_k |x_k - x_k-1| over 0 < k < n (steps = 1), in
// double, in eight partial sums (two 4-lane vectors).
template <class T>
inline double sum_abs(index_t n, const T* x, int steps) {
  using V = detail::SimdVec<double, 32>::type;
  auto load = [x](index_t k) -> V {
    if constexpr (std::is_same_v<T, double>) {
      return detail::load_vec<V>(x + k);
    } else {
      return __builtin_convertvector(detail::load_vec<detail::SimdVec<float, 16>::type>(x + k), V);
    }
  };
  auto abs = [](V v) -> V { return v < 0 ? -v : v; };  // NaN stays NaN
  V a = {0, 0, 0, 0}, b = {0, 0, 0, 0};
  index_t i = steps;
  if (steps) {
    for (; i + 8 <= n; i += 8) {
      a += abs(load(i) - load(i - 1));
      b += abs(load(i + 4) - load(i + 3));
    }
  } else {
    for (; i + 8 <= n; i += 8) {
      a += abs(load(i));
      b += abs(load(i + 4));
    }
  }
  a += b;
  double sum = (a[0] + a[1]) + (a[2] + a[3]);
  for (; i < n; ++i) sum += std::fabs(double(x[i]) - (steps ? double(x[i - 1]) : 0.0));
  return sum;
}

// y = the prox of x (n >= 1). Returns false, leaving y unspecified, if x holds NaN or Inf.
template <class T>
inline bool denoise_one(index_t n, const T* x, double lam, T* y, ChainMemory& memory) {
  // sum |x_k| (as detail::useful_lambda; the NaN and Inf check) and, over the first `probe`
  // samples, the variation sum |x_k+1 - x_k| that chooses the algorithm, in two vectors of
  // four partial sums each: one chain of additions costs 4 cycles a sample, and the compiler
  // does not split the scalar ones reliably (at n = 1e3 they took a quarter of a small-lam
  // solve).
  const index_t probe = std::min<index_t>(n, kCondatProbe);
  const double total = sum_abs(n, x, 0);
  const double variation = sum_abs(probe, x, 1);
  if (!(total <= std::numeric_limits<double>::max())) {  // NaN or Inf, or an overflowing sum
    for (index_t j = 0; j < n; ++j)
      if (!std::isfinite(double(x[j]))) return false;
  }
  lam = std::min(lam, 2 * total);
  if (n == 1 || lam == 0) {
    std::copy(x, x + n, y);
    return true;
  }
  // Condat's direct algorithm first: the faster one while segments are short (small lam). It
  // gives up on a rescan-heavy signal, and the taut string, linear in the worst case, starts
  // over. No difference x_i - x_j +- 4 lam can overflow here.
  if (lam * double(probe - 1) <= kCondatReach * variation &&
      4 * (total + lam) <= std::numeric_limits<double>::max() &&
      detail::condat_denoise<double>(n, x, lam, y, kCondatSlack, kCondatRate))
    return true;
  double scale = 1, unscale = 1, lam_scaled = lam;
  for (;;) {
    auto grow = [&memory](detail::TautChain<double>& c) { return memory.grow(c); };
    const auto status =
        detail::taut_string_denoise(n, x, detail::ConstantWidth<double>{lam_scaled}, scale, unscale,
                                    y, memory.chain(0), memory.chain(1), grow);
    if (status == detail::TautStatus::kDone) return true;
    if (scale != 1) return true;  // already rescaled: the result is as good as it gets
    // A local sum overflowed (|x| or lam near DBL_MAX / n): solve x * 2^-e with lam * 2^-e,
    // an exact rescaling, and scale the result back.
    double largest = lam;
    // std::max, not fmax: GCC 12 for aarch64 crashes vectorising an fmax reduction of floats.
    for (index_t k = 0; k < n; ++k) largest = std::max(largest, std::fabs(double(x[k])));
    const int e = std::ilogb(largest) - 1;  // |x| * 2^-e < 4, and 2^e stays finite
    scale = std::ldexp(1.0, -e);
    unscale = std::ldexp(1.0, e);
    lam_scaled = std::ldexp(lam, -e);
  }
}

}  // namespace optkern::tv_detail
