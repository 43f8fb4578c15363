// Descriptors of batches of strided matrices, shared by the CPU and CUDA kernels. Plain data
// without Eigen, so that CUDA kernels can take them by value.
#pragma once

#include "optkern/common.hpp"

namespace optkern {

// numpy allows 64 dimensions; a batch of more than 8 dimensions can always be merged or
// copied into fewer by the caller, and a fixed bound keeps these descriptors plain data that
// can be passed by value to a CUDA kernel.
inline constexpr int kMaxBatchDims = 8;

// The batch dimensions shared by the operands of a batched kernel.
struct BatchShape {
  int ndim = 0;
  index_t extent[kMaxBatchDims] = {};

#if defined(__CUDACC__)
  __host__ __device__
#endif
  index_t size() const {
    index_t n = 1;
    for (int d = 0; d < ndim; ++d) n *= extent[d];
    return n;
  }
};

// A batch of matrices inside one buffer. Element (b_0, ..., b_{ndim-1}, i, j) lives at
// data[sum_d b_d * batch_stride[d] + i * row_stride + j * col_stride]. Strides count
// elements, not bytes, and may be zero (broadcast) or negative (reversed views).
template <class T>
struct MatrixBatch {
  T* data = nullptr;
  index_t rows = 0, cols = 0;
  index_t row_stride = 0, col_stride = 1;
  index_t batch_stride[kMaxBatchDims] = {};
};

}  // namespace optkern
