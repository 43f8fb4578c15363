// The linalg area on a CUDA device, with the CPU kernels' semantics (optkern/linalg.hpp):
// batched matmul, C[b] = A[b] @ B[b], and batched tridiagonal solves.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "optkern/common.hpp"
#include "optkern/linalg/tridiagonal.hpp"
#include "optkern/strided.hpp"

namespace optkern::cuda {

// All pointers are device pointers; any strides (in elements), a broadcast batch of up to
// kMaxBatchDims dimensions. The work is queued on `stream` and not waited for.
// Throws std::invalid_argument on inconsistent sizes and optkern::cuda::Error on CUDA errors.
template <class T>
void bmm(const BatchShape& batch, const MatrixBatch<const T>& a, const MatrixBatch<const T>& b,
         const MatrixBatch<T>& c, cudaStream_t stream);

// Tridiagonal solves as optkern::tridiagonal_solve: Thomas' algorithm where its multipliers
// stay bounded, Gaussian elimination with partial pivoting elsewhere. One thread per system;
// arithmetic in T. Device pointers throughout. `status` (device, 2 values, may be null)
// receives the number of singular systems and the lowest singular index (-1 if none); their
// rows of x are NaN. Queued on `stream`, not waited for.
template <class T>
std::size_t tridiagonal_solve_scratch_bytes(index_t batch, index_t n);
template <class T>
void tridiagonal_solve(const TridiagonalSystems<T>& systems, T* x, index_t* status, void* scratch,
                       std::size_t scratch_bytes, cudaStream_t stream);

}  // namespace optkern::cuda
