// Pieces the Sinkhorn kernels (balanced, unbalanced, point clouds) share: block reductions in
// double and a stream-ordered device buffer.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>
#include <limits>

#include "optkern/common.hpp"
#include "optkern/cuda/runtime.hpp"

namespace optkern::cuda::ot_kernels {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kScratch = 32;  // doubles of shared scratch for a block reduction (32 warps)

__device__ inline double warp_sum(double x) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

// fmax ignores a NaN operand, as std::max(acc, x) does when acc is the first argument.
__device__ inline double warp_max(double x) {
  for (int o = 16; o > 0; o >>= 1) x = fmax(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}

// Every thread of the block gets the same sum (max), computed in the same order by each;
// blockDim.x must be a multiple of 32 (at most 1024), and every thread must call it.
__device__ inline double block_sum(double x, double* scratch) {
  x = warp_sum(x);
  __syncthreads();  // the scratch may still be read by the previous reduction
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = x;
  __syncthreads();
  const unsigned lane = threadIdx.x & 31;
  return warp_sum(lane < (blockDim.x >> 5) ? scratch[lane] : 0.0);
}

__device__ inline double block_max(double x, double* scratch) {
  x = warp_max(x);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = x;
  __syncthreads();
  const unsigned lane = threadIdx.x & 31;
  return warp_max(lane < (blockDim.x >> 5) ? scratch[lane] : -kInf);
}

// Device memory freed when the call ends (stream-ordered); zeroed on request.
class DeviceBuffer {
 public:
  DeviceBuffer(std::size_t bytes, cudaStream_t stream, bool zero = false) : stream_(stream) {
    bytes = std::max<std::size_t>(bytes, 8);
    check(cudaMallocAsync(&ptr_, bytes, stream_), "ot workspace");
    if (zero) check(cudaMemsetAsync(ptr_, 0, bytes, stream_), "ot workspace memset");
  }
  ~DeviceBuffer() { cudaFreeAsync(ptr_, stream_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <class U>
  U* as() const {
    return static_cast<U*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  cudaStream_t stream_;
};

inline int round_up(index_t x, int to) { return int((x + to - 1) / to * to); }

}  // namespace optkern::cuda::ot_kernels
