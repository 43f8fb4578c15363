// Batched tridiagonal solves on a CUDA device, with the CPU solver's semantics
// (optkern/tridiagonal.hpp): Thomas' algorithm where its multipliers stay bounded, Gaussian
// elimination with partial pivoting elsewhere. One thread per system; arithmetic in T.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "optkern/common.hpp"
#include "optkern/tridiagonal.hpp"

namespace optkern::cuda {

// Device pointers throughout. `status` (device, 2 values, may be null) receives the number of
// singular systems and the lowest singular index (-1 if none); their rows of x are NaN.
// Queued on `stream`, not waited for.
template <class T>
std::size_t tridiagonal_solve_scratch_bytes(index_t batch, index_t n);
template <class T>
void tridiagonal_solve(const TridiagonalSystems<T>& systems, T* x, index_t* status, void* scratch,
                       std::size_t scratch_bytes, cudaStream_t stream);

}  // namespace optkern::cuda
