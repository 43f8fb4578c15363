// GivensSequence applied on the GPU, layer by layer: see optkern/cuda/givens_apply.hpp.
#include <cuda_runtime.h>

#include <algorithm>
#include <vector>

#include "optkern/cuda/givens_apply.hpp"
#include "optkern/cuda/runtime.hpp"

namespace optkern::cuda::givens {
namespace {

constexpr int kThreads = 256;
constexpr std::size_t kSharedBytes = 48 * 1024;  // without opting in to more

// Rotation k on rows (i, j) of one column: G acts as [[c, s], [-s, c]], G^T as [[c, -s], [s, c]].
template <class T>
__device__ __forceinline__ void rotate(T& a, T& b, T c, T s) {
  const T x = a, y = b;
  a = c * x + s * y;
  b = c * y - s * x;
}

// One block per (tile of `tile` columns, matrix): the tile (d x tile) is loaded into shared
// memory, every layer is applied to it with a barrier after each, and it is written back.
// The layer offsets come in `starts` (n_layers + 1 entries, device memory).
template <class T>
__global__ void layers_in_shared(const std::int64_t* __restrict__ fi,
                                 const std::int64_t* __restrict__ fj, const T* __restrict__ fc,
                                 const T* __restrict__ fs, const std::int64_t* __restrict__ starts,
                                 long long n_layers, T* __restrict__ x, long long d,
                                 long long cols, int tile, bool transpose) {
  extern __shared__ unsigned char raw[];
  T* sh = reinterpret_cast<T*>(raw);
  const long long c0 = (long long)blockIdx.x * tile;
  const int width = (int)min((long long)tile, cols - c0);
  T* base = x + (long long)blockIdx.y * d * cols + c0;
  for (long long e = threadIdx.x; e < d * width; e += blockDim.x) {
    const long long r = e / width, c = e % width;
    sh[r * tile + c] = base[r * cols + c];
  }
  __syncthreads();
  for (long long m = 0; m < n_layers; ++m) {
    // G_1 ... G_n x applies G_n first: the last layer first; the transpose the first first
    const long long l = transpose ? m : n_layers - 1 - m;
    const long long first = starts[l], count = starts[l + 1] - first;
    for (long long e = threadIdx.x; e < count * width; e += blockDim.x) {
      const long long k = first + e / width;
      const int c = (int)(e % width);
      const T s = transpose ? -fs[k] : fs[k];
      rotate(sh[fi[k] * tile + c], sh[fj[k] * tile + c], fc[k], s);
    }
    __syncthreads();
  }
  for (long long e = threadIdx.x; e < d * width; e += blockDim.x) {
    const long long r = e / width, c = e % width;
    base[r * cols + c] = sh[r * tile + c];
  }
}

// One layer in global memory: one thread per (factor of the layer, column, matrix).
template <class T>
__global__ void layer_in_global(const std::int64_t* __restrict__ fi,
                                const std::int64_t* __restrict__ fj, const T* __restrict__ fc,
                                const T* __restrict__ fs, long long first, long long count,
                                T* __restrict__ x, long long batch, long long d, long long cols,
                                bool transpose) {
  const long long total = count * cols * batch;
  for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < total;
       e += (long long)gridDim.x * blockDim.x) {
    const long long c = e % cols, rest = e / cols;
    const long long k = first + rest % count, b = rest / count;
    T* col = x + b * d * cols + c;
    const T s = transpose ? -fs[k] : fs[k];
    rotate(col[fi[k] * cols], col[fj[k] * cols], fc[k], s);
  }
}

}  // namespace

template <class T>
void apply_layers(const std::int64_t* i, const std::int64_t* j, const T* cos, const T* sin,
                  const std::int64_t* layer_start, index_t n_layers, T* x, index_t batch,
                  index_t d, index_t cols, bool transpose, cudaStream_t stream) {
  if (n_layers <= 0 || batch <= 0 || cols <= 0 || d <= 0) return;
  // The widest tile of columns whose d rows fit in shared memory; at least 1 column.
  const long long per_column = (long long)d * (long long)sizeof(T);
  const long long tile = std::min<long long>(cols, (long long)kSharedBytes / per_column);
  if (tile >= 1 && batch <= 65535) {
    std::int64_t* starts = nullptr;
    const std::size_t bytes = std::size_t(n_layers + 1) * sizeof(std::int64_t);
    check(cudaMallocAsync(reinterpret_cast<void**>(&starts), bytes, stream),
          "givens apply: layer offsets");
    check(cudaMemcpyAsync(starts, layer_start, bytes, cudaMemcpyHostToDevice, stream),
          "givens apply: layer offsets");
    const dim3 grid(unsigned((cols + tile - 1) / tile), unsigned(batch));
    const std::size_t shared = std::size_t(d) * std::size_t(tile) * sizeof(T);
    layers_in_shared<T><<<grid, kThreads, shared, stream>>>(i, j, cos, sin, starts, n_layers,
                                                            x, d, cols, int(tile), transpose);
    check(cudaGetLastError(), "givens apply: kernel launch");
    // stream-ordered: the offsets are released after the kernel has read them
    check(cudaFreeAsync(starts, stream), "givens apply: layer offsets");
    return;
  }
  for (index_t m = 0; m < n_layers; ++m) {
    const index_t l = transpose ? m : n_layers - 1 - m;
    const long long first = layer_start[l], count = layer_start[l + 1] - first;
    const long long total = count * cols * batch;
    if (total <= 0) continue;
    const unsigned blocks = unsigned(std::min<long long>((total + kThreads - 1) / kThreads, 65535));
    layer_in_global<T><<<blocks, kThreads, 0, stream>>>(i, j, cos, sin, first, count, x, batch,
                                                        d, cols, transpose);
    check(cudaGetLastError(), "givens apply: kernel launch");
  }
}

template void apply_layers<float>(const std::int64_t*, const std::int64_t*, const float*,
                                  const float*, const std::int64_t*, index_t, float*, index_t,
                                  index_t, index_t, bool, cudaStream_t);
template void apply_layers<double>(const std::int64_t*, const std::int64_t*, const double*,
                                   const double*, const std::int64_t*, index_t, double*, index_t,
                                   index_t, index_t, bool, cudaStream_t);

}  // namespace optkern::cuda::givens
