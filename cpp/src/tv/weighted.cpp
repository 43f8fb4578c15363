// 1-D TV with one weight per edge on the CPU: the exact solver (Condat's direct algorithm with
// per-edge lam, detail/tv_condat.hpp, falling back to the taut string with a tube of varying
// width, detail/tv_taut_string.hpp), IRLS with per-row weights
// (detail/tv_irls.hpp) and the backward (per-edge gradients of the weights).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#include "batch.hpp"
#include "chain_memory.hpp"
#include "denoise_one.hpp"
#include "optkern/detail/tv_condat.hpp"
#include "optkern/detail/tv_irls.hpp"
#include "optkern/detail/tv_segments.hpp"
#include "optkern/detail/tv_taut_string.hpp"
#include "optkern/tv.hpp"

namespace optkern {
namespace {

// Throws unless every weight is finite and >= 0. (One require at the end: each call builds
// its message, a std::string, which per weight cost a malloc and a free, more than the solve.)
void check_weights(index_t count, const double* w) {
  bool ok = true;
  for (index_t i = 0; i < count; ++i) ok &= w[i] >= 0 && w[i] <= 1.7976931348623157e308;
  require(ok, "lam", "must be finite and >= 0");
}

// y = the weighted prox of x (n >= 1, weights finite and >= 0); false, y unspecified, if x
// holds NaN or Inf. Condat's direct
// algorithm with per-edge lam (detail/tv_condat.hpp) within the scalar solver's budget, else
// the taut string (linear in the worst case), as tv_detail::denoise_one does for one lam.
//
// cap = n (max x - min x) bounds the weights that matter: the solution lies in [min x, max x]
// (the prox is monotone and fixes constants), so |z_k| = |sum_{i<=k} x_i - y_i| <=
// min(k + 1, n - 1 - k) (max x - min x) < cap, and an edge weighing cap or more is never
// active (for a constant x, cap = 0 and y = x). The taut string reads each weight as
// min(w_k, cap); Condat's walk hands a signal with such a weight to it (in its bounds a huge
// weight would round the result away, where the taut string's rises are exact). cap depends
// on x only through differences, so an offset leaves it alone.
template <class T>
bool denoise_one(index_t n, const T* x, const double* w, T* y, tv_detail::ChainMemory& memory) {
  if (n == 1) {
    y[0] = x[0];
    return std::isfinite(double(x[0]));
  }
  if (std::all_of(w + 1, w + (n - 1), [w](double v) { return v == w[0]; })) {
    // Equal weights: the scalar solver, whose answer this is (bit for bit).
    return tv_detail::denoise_one(n, x, w[0], y, memory);
  }
  // min and max of x, in two partial pairs (std::min/max, not fmin/fmax: see below), and its
  // sum, finite unless x holds NaN or Inf (or the sum overflows: then each is checked)
  double lo[2] = {double(x[0]), double(x[0])}, hi[2] = {lo[0], lo[0]}, sum[2] = {lo[0], 0};
  for (index_t k = 1; k + 1 < n; k += 2)
    for (int j = 0; j < 2; ++j) {
      lo[j] = std::min(lo[j], double(x[k + j]));
      hi[j] = std::max(hi[j], double(x[k + j]));
      sum[j] += double(x[k + j]);
    }
  if (!std::isfinite(sum[0] + sum[1] + double(x[n - 1])))
    for (index_t k = 0; k < n; ++k)
      if (!std::isfinite(double(x[k]))) return false;
  const double low = std::min({lo[0], lo[1], double(x[n - 1])});
  const double high = std::max({hi[0], hi[1], double(x[n - 1])});
  const double cap = double(n) * (high - low);
  // Condat first, unless a difference x_i - x_j +- 4 w_k could overflow (w_k < cap there).
  // Unlike the scalar solver it starts at any size of weights: random weights (U(0, 2 lam))
  // cut the signal at their small edges, so it rescans little even at lam_max / 10, where it
  // ran 2-4x the taut string (n = 1e6 walks), while near-equal weights make it give up after
  // its first 256 rescans, at little cost.
  const double largest = std::max(std::fabs(low), std::fabs(high));
  if (4 * (largest + cap) <= std::numeric_limits<double>::max() &&
      detail::condat_walk<double>(n, x, detail::EdgeLambdas<double, const double*>{w, n - 1, cap},
                                  y, tv_detail::kCondatSlack, tv_detail::kCondatRate))
    return true;
  double widest = 0;
  // std::max, not fmax: GCC 12 for aarch64 crashes vectorising an fmax reduction of floats.
  for (index_t k = 0; k + 1 < n; ++k) widest = std::max(widest, std::min(w[k], cap));
  if (widest == 0) {
    std::copy(x, x + n, y);
    return true;
  }
  double scale = 1, unscale = 1;
  for (;;) {
    auto grow = [&memory](detail::TautChain<double>& c) { return memory.grow(c); };
    const detail::EdgeWidths<double, const double*> width{w, cap, scale, widest * scale};
    const auto status = detail::taut_string_denoise(n, x, width, scale, unscale, y,
                                                    memory.chain(0), memory.chain(1), grow);
    if (status == detail::TautStatus::kDone) return true;
    if (scale != 1) return true;  // already rescaled: the result is as good as it gets
    // A local sum overflowed: solve x * 2^-e with w * 2^-e, an exact rescaling.
    double big = widest;
    for (index_t k = 0; k < n; ++k) big = std::max(big, std::fabs(double(x[k])));
    const int e = std::ilogb(big) - 1;
    scale = std::ldexp(1.0, -e);
    unscale = std::ldexp(1.0, e);
  }
}

}  // namespace

template <class T>
void tv_denoise_weighted(index_t batch, index_t n, const T* x, const double* w, index_t w_stride,
                         T* y, int num_threads) {
  require(batch >= 0 && n >= 0, "n", "sizes must be non-negative");
  require(w_stride == 0 || w_stride == n - 1, "lam", "stride must be 0 (shared) or n - 1");
  if (batch == 0 || n == 0) return;
  require(x && y && (w || n == 1), "x", "null pointer");
  require(x + batch * n <= y || y + batch * n <= x, "y", "must not overlap x");
  check_weights(w_stride == 0 ? n - 1 : batch * (n - 1), w);
  // The signals are checked for NaN and Inf on the way, as tv_denoise does (the Python layer's
  // common call does not scan them first).
  std::atomic<bool> non_finite{false};
  tv_detail::for_each_signal(batch, n, num_threads, [] { return tv_detail::ChainMemory{}; },
                             [&](tv_detail::ChainMemory& memory, index_t b) {
                               if (!denoise_one(n, x + b * n, w + b * w_stride, y + b * n, memory))
                                 non_finite.store(true, std::memory_order_relaxed);
                             });
  require(!non_finite.load(), "x", "expected finite values, got NaN or Inf");
}

template <class T>
void tv_denoise_irls_weighted(index_t batch, index_t n, const T* x, const double* w,
                              index_t w_stride, double tol, index_t max_iter, T* y, index_t* nit,
                              double* change, int num_threads, Interrupt* interrupt) {
  require(batch >= 0 && n >= 0, "n", "sizes must be non-negative");
  require(w_stride == 0 || w_stride == n - 1, "lam", "stride must be 0 (shared) or n - 1");
  require(tol > 0 && std::isfinite(tol), "tol", "must be a finite number > 0");
  require(max_iter >= 1, "max_iter", "must be >= 1");
  if (batch == 0) return;
  require(x && y && nit && change && (w || n <= 1), "x", "null pointer");
  if (n >= 1) check_weights(w_stride == 0 ? n - 1 : batch * (n - 1), w);
  tv_detail::for_each_signal(
      batch, n, num_threads, [n] { return std::vector<double>(3 * std::size_t(n)); },
      [&](std::vector<double>& work, index_t b) {
        double* u = work.data();
        nit[b] = detail::irls_denoise(n, x + b * n, 1.0, tol, max_iter, y + b * n, u, u + n,
                                      u + 2 * n, &change[b],
                                      [interrupt] { return detail::poll(interrupt); },
                                      w + b * w_stride);
      },
      interrupt);
  detail::throw_if_stopped(interrupt);
}

template <class T>
void tv_denoise_vjp_weighted(index_t batch, index_t n, const T* y, const T* grad_y, double rtol,
                             T* grad_x, double* grad_w, int num_threads) {
  require(batch >= 0 && n >= 0, "n", "sizes must be non-negative");
  require(rtol >= 0 && std::isfinite(rtol), "rtol", "must be a finite number >= 0");
  if (batch == 0 || n == 0) return;
  require(y && grad_y && grad_x && (grad_w || n == 1), "y", "null pointer");
  tv_detail::for_each_signal(batch, n, num_threads, [] { return 0; }, [&](int, index_t b) {
    detail::segment_vjp_weighted(n, y + b * n, grad_y + b * n, rtol, grad_x + b * n,
                                 grad_w + b * (n - 1));
  });
}

#define OPTKERN_TV_WEIGHTED(T)                                                                \
  template void tv_denoise_weighted<T>(index_t, index_t, const T*, const double*, index_t, T*, \
                                       int);                                                  \
  template void tv_denoise_irls_weighted<T>(index_t, index_t, const T*, const double*,        \
                                            index_t, double, index_t, T*, index_t*, double*,  \
                                            int, Interrupt*);                                 \
  template void tv_denoise_vjp_weighted<T>(index_t, index_t, const T*, const T*, double, T*,  \
                                           double*, int);
OPTKERN_TV_WEIGHTED(float)
OPTKERN_TV_WEIGHTED(double)
#undef OPTKERN_TV_WEIGHTED

}  // namespace optkern
