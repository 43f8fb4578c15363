// Batched matmul on a CUDA device: C[b] = A[b] @ B[b] with the CPU kernel's semantics.
#pragma once

#include <cuda_runtime_api.h>

#include "optkern/strided.hpp"

namespace optkern::cuda {

// All pointers are device pointers; any strides (in elements), a broadcast batch of up to
// kMaxBatchDims dimensions. The work is queued on `stream` and not waited for.
// Throws std::invalid_argument on inconsistent sizes and optkern::cuda::Error on CUDA errors.
template <class T>
void bmm(const BatchShape& batch, const MatrixBatch<const T>& a, const MatrixBatch<const T>& b,
         const MatrixBatch<T>& c, cudaStream_t stream);

}  // namespace optkern::cuda
