// 1-D total variation on a CUDA device: the exact prox, the lecture notes' IRLS and the exact
// backward, with the CPU kernels' semantics (optkern/tv.hpp), batched over signals.
//
// All pointers are device pointers: `batch` contiguous signals of length n, and lam as
// lam[b * lam_stride] (lam_stride 0: one value for all) in double. A signal whose lam is
// negative or not finite comes out as NaN (inputs already on the device are not checked on
// the host). Work is queued on `stream` and not waited for. Launchers that need scratch memory
// take it from the caller, `*_scratch_bytes` of it, so that it can come from the caller's
// memory pool (CuPy's, torch's). y must not overlap x. Errors: std::invalid_argument for bad
// sizes, optkern::cuda::Error for CUDA failures.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "optkern/common.hpp"

namespace optkern::cuda {

// How the exact solver and the backward map signals to threads: one thread per signal,
// reading its signal from a shared-memory copy that the block loads and stores coalesced
// (kStaged, for signals short enough to fit), or straight from global memory (kDirect).
// kAuto picks kStaged where it fits; the others exist to measure the choice.
enum class TvMapping : int { kAuto = 0, kStaged = 1, kDirect = 2 };

// Exact solution: Condat's direct algorithm, one thread per signal, in place in shared memory
// where it fits. A signal that needs more than a budget of O(n) steps (Condat's algorithm is
// quadratic in the worst case) is queued and solved again by the taut string method, O(n)
// in the worst case, in the scratch memory's slots. condat_budget is that budget in steps
// (-1: 32 n + 1024; 0 sends every signal to the taut string, which tests use).
std::size_t tv_denoise_scratch_bytes(index_t batch, index_t n);
template <class T>
void tv_denoise(index_t batch, index_t n, const T* x, const double* lam, index_t lam_stride, T* y,
                void* scratch, std::size_t scratch_bytes, cudaStream_t stream,
                TvMapping mapping = TvMapping::kAuto, index_t condat_budget = -1);

// The lecture notes' iteration, one thread per signal looping on the device until its own
// relative change is <= tol or max_iter; nit[b] (index_t) and change[b] (double) are written.
std::size_t tv_denoise_irls_scratch_bytes(index_t batch, index_t n);
template <class T>
void tv_denoise_irls(index_t batch, index_t n, const T* x, const double* lam, index_t lam_stride,
                     double tol, index_t max_iter, T* y, index_t* nit, double* change,
                     void* scratch, std::size_t scratch_bytes, cudaStream_t stream);

// Backward at the solution y: segment means of grad_y into grad_x (which may be grad_y) and
// dL/dlam per signal into grad_lam[b] (double).
template <class T>
void tv_denoise_vjp(index_t batch, index_t n, const T* y, const T* grad_y, double rtol, T* grad_x,
                    double* grad_lam, cudaStream_t stream, TvMapping mapping = TvMapping::kAuto);

// One weight per edge (w + b * w_stride, w_stride 0 or n - 1; the CPU's tv_denoise_weighted):
// the exact taut string, one thread per signal in slots of the scratch memory, and the
// backward with grad_w (batch x (n - 1), double). A signal with an invalid weight gives NaN.
std::size_t tv_denoise_weighted_scratch_bytes(index_t batch, index_t n);
template <class T>
void tv_denoise_weighted(index_t batch, index_t n, const T* x, const double* w, index_t w_stride,
                         T* y, void* scratch, std::size_t scratch_bytes, cudaStream_t stream);
template <class T>
void tv_denoise_vjp_weighted(index_t batch, index_t n, const T* y, const T* grad_y, double rtol,
                             T* grad_x, double* grad_w, cudaStream_t stream);

}  // namespace optkern::cuda
