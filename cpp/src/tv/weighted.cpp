// 1-D TV with one weight per edge on the CPU: the exact taut string with a tube of varying
// width (detail/tv_taut_string.hpp, EdgeWidths), IRLS with per-row weights
// (detail/tv_irls.hpp) and the backward (per-edge gradients of the weights).
#include <algorithm>
#include <cmath>
#include <vector>

#include "batch.hpp"
#include "chain_memory.hpp"
#include "denoise_one.hpp"
#include "optkern/detail/tv_irls.hpp"
#include "optkern/detail/tv_segments.hpp"
#include "optkern/detail/tv_taut_string.hpp"
#include "optkern/tv.hpp"

namespace optkern {
namespace {

// Throws unless every weight is finite and >= 0.
void check_weights(index_t count, const double* w) {
  for (index_t i = 0; i < count; ++i)
    require(w[i] >= 0 && w[i] <= 1.7976931348623157e308, "lam", "must be finite and >= 0");
}

// The weights of one signal, each clamped to C = 2 (sum|x| + n max|x|): the solution lies in
// [min x, max x] (the prox is monotone and fixes constants), so |z_k| = |sum_{i<=k} x_i - y_i|
// <= C / 2 and an edge weighing more than C is never active. (Huge weights would only cost
// accuracy: the walls' rises x_k +- (w_k - w_{k-1}) would round x_k away.)
template <class T>
double clamp_weights(index_t n, const T* x, const double* w, double* out) {
  double total = 0, largest = 0;
  for (index_t k = 0; k < n; ++k) {
    const double v = std::fabs(double(x[k]));
    total += v;
    largest = std::fmax(largest, v);
  }
  const double cap = 2 * (total + double(n) * largest);
  double widest = 0;
  for (index_t k = 0; k + 1 < n; ++k) {
    out[k] = std::fmin(w[k], cap);
    widest = std::fmax(widest, out[k]);
  }
  return widest;
}

struct WeightedState {
  tv_detail::ChainMemory memory;
  std::vector<double> weights;
};

template <class T>
void denoise_one(index_t n, const T* x, const double* w, T* y, WeightedState& state) {
  if (n == 1) {
    y[0] = x[0];
    return;
  }
  state.weights.resize(std::size_t(n - 1));
  double* weights = state.weights.data();
  const double widest = clamp_weights(n, x, w, weights);
  if (widest == 0) {
    std::copy(x, x + n, y);
    return;
  }
  if (std::all_of(weights, weights + (n - 1), [widest](double v) { return v == widest; })) {
    // Equal weights: the scalar solver, whose answer this is (bit for bit). (x is finite: the
    // callers check it.)
    tv_detail::denoise_one(n, x, widest, y, state.memory);
    return;
  }
  double scale = 1, unscale = 1;
  for (;;) {
    auto grow = [&state](detail::TautChain<double>& c) { return state.memory.grow(c); };
    const detail::EdgeWidths<double, const double*> width{weights, scale, widest * scale};
    const auto status = detail::taut_string_denoise(n, x, width, scale, unscale, y,
                                                    state.memory.chain(0),
                                                    state.memory.chain(1), grow);
    if (status == detail::TautStatus::kDone) return;
    if (scale != 1) return;  // already rescaled: the result is as good as it gets
    // A local sum overflowed: solve x * 2^-e with w * 2^-e, an exact rescaling.
    double largest = widest;
    // std::max, not fmax: GCC 12 for aarch64 crashes vectorising an fmax reduction of floats.
    for (index_t k = 0; k < n; ++k) largest = std::max(largest, std::fabs(double(x[k])));
    const int e = std::ilogb(largest) - 1;
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
  tv_detail::for_each_signal(batch, n, num_threads, [] { return WeightedState{}; },
                             [&](WeightedState& state, index_t b) {
                               denoise_one(n, x + b * n, w + b * w_stride, y + b * n, state);
                             });
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
