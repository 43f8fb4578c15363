// 1-D TV with one weight per edge on a CUDA device (optkern/cuda/tv.hpp): Condat's direct
// algorithm with per-edge lam (detail/tv_condat.hpp) within a budget of rescans, else the
// exact taut string through a tube of half-width w_k (detail/tv_taut_string.hpp), as the CPU's
// cpp/src/tv/weighted.cpp; one thread per signal, with a slot of scratch memory for its two
// chains, and the backward (detail/tv_segments.hpp, segment_vjp_weighted), one thread per
// signal. Signals with a non-finite or negative weight come out as NaN (device arrays are
// not checked on the host).
#include <cfloat>

#include "common.cuh"
#include "optkern/cuda/tv.hpp"
#include "optkern/detail/tv_condat.hpp"
#include "optkern/detail/tv_segments.hpp"
#include "optkern/detail/tv_taut_string.hpp"

namespace optkern::cuda {
namespace {

using namespace tv_kernels;
using Segment = detail::TautSegment<double>;

// Condat's budget in rescanned samples before the taut string takes over (as the scalar
// kernel's in denoise.cu: looser than the CPU's, since the taut string costs this kernel
// its slot's memory traffic).
inline __device__ index_t condat_budget(index_t n) { return 32 * n + 1024; }

template <class T>
__global__ void exact_weighted(index_t batch, index_t n, const T* __restrict__ x,
                                     const double* __restrict__ w, index_t w_stride,
                                     T* __restrict__ y, Segment* slot_memory, index_t slots) {
  const index_t slot = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (slot >= slots) return;
  Segment* upper = slot_memory + slot * 2 * n;
  Segment* lower = upper + n;
  for (index_t b = slot; b < batch; b += slots) {
    const T* xb = x + b * n;
    T* yb = y + b * n;
    const double* wb = w + b * w_stride;
    double low = n ? double(xb[0]) : 0, high = low, largest = 0, widest = 0;
    bool valid = true;
    for (index_t k = 0; k < n; ++k) {
      const double v = double(xb[k]);
      low = fmin(low, v);
      high = fmax(high, v);
      largest = fmax(largest, fabs(v));
    }
    // From cap on an edge is never active (as on the CPU, cpp/src/tv/weighted.cpp, which says
    // why): Condat's walk gives up on such a weight, the taut string reads it as cap.
    const double cap = double(n) * (high - low);
    for (index_t k = 0; k + 1 < n; ++k) {
      valid = valid && valid_lambda(wb[k]);
      widest = fmax(widest, fmin(wb[k], cap));
    }
    if (!valid) {
      fill_nan(yb, n);
      continue;
    }
    if (n == 1 || widest == 0) {
      for (index_t k = 0; k < n; ++k) yb[k] = xb[k];
      continue;
    }
    // Condat's direct algorithm with per-edge lam (detail/tv_condat.hpp) within a budget, else
    // the taut string, which rewrites all of y.
    if (4 * (largest + cap) <= DBL_MAX &&
        detail::condat_walk<double>(n, xb, detail::EdgeLambdas<double, const double*>{wb, n - 1,
                                                                                      cap},
                                    yb, condat_budget(n)))
      continue;
    double scale = 1, unscale = 1;
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto no_growth = [](detail::TautChain<double>&) { return false; };  // n always fit
      const detail::EdgeWidths<double, const double*> width{wb, cap, scale, widest * scale};
      const auto status = detail::taut_string_denoise(
          n, xb, width, scale, unscale, yb, detail::TautChain<double>{upper, upper + n},
          detail::TautChain<double>{lower, lower + n}, no_growth);
      if (status != detail::TautStatus::kOverflow) break;
      double big = widest;  // rescale by a power of two, exactly, as the CPU does
      for (index_t k = 0; k < n; ++k) big = fmax(big, fabs(double(xb[k])));
      const int e = ilogb(big) - 1;
      scale = ldexp(1.0, -e);
      unscale = ldexp(1.0, e);
    }
  }
}

template <class T>
__global__ void vjp_weighted(index_t batch, index_t n, const T* __restrict__ y,
                             const T* __restrict__ grad_y, double rtol, T* __restrict__ grad_x,
                             double* __restrict__ grad_w) {
  const index_t b = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= batch) return;
  detail::segment_vjp_weighted<double>(n, y + b * n, grad_y + b * n, rtol, grad_x + b * n,
                                       grad_w + b * (n - 1));
}

index_t weighted_slots(index_t batch, index_t n) {
  return fallback_slots(batch, std::size_t(2 * n) * sizeof(Segment));
}

}  // namespace

std::size_t tv_denoise_weighted_scratch_bytes(index_t batch, index_t n) {
  ScratchCarver carver;
  carver.take<Segment>(weighted_slots(batch, n) * 2 * n);
  return carver.used();
}

template <class T>
void tv_denoise_weighted(index_t batch, index_t n, const T* x, const double* w, index_t w_stride,
                         T* y, void* scratch, std::size_t scratch_bytes, cudaStream_t stream) {
  require(batch >= 0 && n >= 0, "n", "sizes must be non-negative");
  require(w_stride == 0 || w_stride == n - 1, "lam", "stride must be 0 (shared) or n - 1");
  if (batch == 0 || n == 0) return;
  require(x && y && (w || n == 1) && scratch, "x", "null pointer");
  check_scratch(scratch_bytes, tv_denoise_weighted_scratch_bytes(batch, n));
  ScratchCarver carver(scratch);
  const index_t slots = weighted_slots(batch, n);
  Segment* memory = carver.take<Segment>(slots * 2 * n);
  exact_weighted<T><<<blocks_for(slots), kThreads, 0, stream>>>(batch, n, x, w, w_stride,
                                                                       y, memory, slots);
  check(cudaGetLastError(), "tv_denoise_weighted kernel launch");
}

template <class T>
void tv_denoise_vjp_weighted(index_t batch, index_t n, const T* y, const T* grad_y, double rtol,
                             T* grad_x, double* grad_w, cudaStream_t stream) {
  require(batch >= 0 && n >= 0, "n", "sizes must be non-negative");
  require(rtol >= 0 && rtol <= DBL_MAX, "rtol", "must be a finite number >= 0");
  if (batch == 0 || n == 0) return;
  require(y && grad_y && grad_x && (grad_w || n == 1), "y", "null pointer");
  vjp_weighted<T><<<blocks_for(batch), kThreads, 0, stream>>>(batch, n, y, grad_y, rtol, grad_x,
                                                               grad_w);
  check(cudaGetLastError(), "tv_denoise_vjp_weighted kernel launch");
}

#define OPTKERN_CUDA_TV_WEIGHTED(T)                                                            \
  template void tv_denoise_weighted<T>(index_t, index_t, const T*, const double*, index_t, T*, \
                                       void*, std::size_t, cudaStream_t);                      \
  template void tv_denoise_vjp_weighted<T>(index_t, index_t, const T*, const T*, double, T*,   \
                                           double*, cudaStream_t);
OPTKERN_CUDA_TV_WEIGHTED(float)
OPTKERN_CUDA_TV_WEIGHTED(double)
#undef OPTKERN_CUDA_TV_WEIGHTED

}  // namespace optkern::cuda
