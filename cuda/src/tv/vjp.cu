// The exact backward of the 1-D TV prox on a CUDA device (optkern/cuda/tv.hpp): one thread
// per signal runs detail/tv_segments.hpp, on a shared-memory copy of its rows of y and grad_y
// (staged: loaded and stored coalesced by the block) or straight from global memory (direct).
#include "common.cuh"
#include "optkern/cuda/tv.hpp"
#include "optkern/detail/tv_segments.hpp"

namespace optkern::cuda {
namespace {

using namespace tv_kernels;

template <class T>
__global__ void vjp_staged(index_t batch, index_t n, const T* __restrict__ y,
                           const T* __restrict__ grad_y, double rtol, T* grad_x,
                           double* __restrict__ grad_lam) {
  extern __shared__ unsigned char shared_bytes[];
  const int row_len = int(staged_row(n)), len = int(n);
  T* y_rows = reinterpret_cast<T*>(shared_bytes);
  T* g_rows = y_rows + kStagedSignals * row_len;
  const index_t first = index_t(blockIdx.x) * kStagedSignals;
  const int count = int(batch - first < kStagedSignals ? batch - first : kStagedSignals);
  const int total = count * len;
  for (int e = threadIdx.x; e < total; e += blockDim.x) {
    const int at = (e / len) * row_len + e % len;
    y_rows[at] = y[first * n + e];
    g_rows[at] = grad_y[first * n + e];
  }
  __syncthreads();
  if (int(threadIdx.x) < count) {
    T* g_row = g_rows + threadIdx.x * row_len;  // the gradient is averaged in place
    grad_lam[first + threadIdx.x] =
        detail::segment_vjp<double>(n, y_rows + threadIdx.x * row_len, g_row, rtol, g_row);
  }
  __syncthreads();
  for (int e = threadIdx.x; e < total; e += blockDim.x)
    grad_x[first * n + e] = g_rows[(e / len) * row_len + e % len];
}

template <class T>
__global__ void vjp_direct(index_t batch, index_t n, const T* __restrict__ y, const T* grad_y,
                           double rtol, T* grad_x, double* __restrict__ grad_lam) {
  const index_t b = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= batch) return;
  grad_lam[b] = detail::segment_vjp<double>(n, y + b * n, grad_y + b * n, rtol, grad_x + b * n);
}

}  // namespace

template <class T>
void tv_denoise_vjp(index_t batch, index_t n, const T* y, const T* grad_y, double rtol, T* grad_x,
                    double* grad_lam, cudaStream_t stream, TvMapping mapping) {
  require(batch >= 0 && n >= 0, "n", "sizes must be non-negative");
  require(rtol >= 0 && rtol <= DBL_MAX, "rtol", "must be a finite number >= 0");
  if (batch == 0) return;
  require(y && grad_y && grad_x && grad_lam, "y", "null pointer");
  std::size_t shared = 0;
  if (use_staged(mapping, n, 2, sizeof(T), vjp_staged<T>, &shared)) {
    vjp_staged<T><<<blocks_for(batch, kStagedSignals), kStagedSignals, shared, stream>>>(
        batch, n, y, grad_y, rtol, grad_x, grad_lam);
  } else {
    vjp_direct<T><<<blocks_for(batch), kThreads, 0, stream>>>(batch, n, y, grad_y, rtol, grad_x,
                                                              grad_lam);
  }
  check(cudaGetLastError(), "tv_denoise_vjp kernel launch");
}

template void tv_denoise_vjp<float>(index_t, index_t, const float*, const float*, double, float*,
                                    double*, cudaStream_t, TvMapping);
template void tv_denoise_vjp<double>(index_t, index_t, const double*, const double*, double,
                                     double*, double*, cudaStream_t, TvMapping);

}  // namespace optkern::cuda
