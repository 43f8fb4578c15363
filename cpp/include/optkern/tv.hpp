// 1-D total variation denoising on the CPU: for each signal x of length n,
//
//   y = argmin_u  1/2 |u - x|^2 + lam * sum_k |u_k - u_{k+1}|,
//
// exactly (the taut string method, O(n)) or by the lecture notes' iteration (IRLS/MM with an
// O(n) tridiagonal solve per step), and the exact backward (segment means). Signals are `batch`
// contiguous rows of n; lam is lam[b * lam_stride] for signal b (lam_stride 0: one value for
// all). float signals are computed in double. Everything is threaded over the batch with
// num_threads threads (0: optkern::num_threads()); a single signal runs on one thread.
#pragma once

#include "optkern/common.hpp"
#include "optkern/interrupt.hpp"

namespace optkern {

// Exact solution into y (batch x n; y must not overlap x). Throws std::invalid_argument for a
// negative or non-finite lam, or a signal holding NaN or Inf.
template <class T>
void tv_denoise(index_t batch, index_t n, const T* x, const double* lam, index_t lam_stride, T* y,
                int num_threads = 0);

// The lecture notes' iteration from u = x, at most max_iter (>= 1) steps per signal, each
// signal stopping on its own once max|u_new - u| <= tol * max|u_new| (tol > 0). nit[b] and
// change[b] receive each signal's iteration count and last relative change. `interrupt`, when
// not null, is polled every iteration (interrupt.hpp: the call then throws).
template <class T>
void tv_denoise_irls(index_t batch, index_t n, const T* x, const double* lam, index_t lam_stride,
                     double tol, index_t max_iter, T* y, index_t* nit, double* change,
                     int num_threads = 0, Interrupt* interrupt = nullptr);

// Backward of the prox at its solution y for a loss gradient grad_y: grad_x (batch x n; may be
// grad_y itself) gets the mean of grad_y over each constant segment of y, and grad_lam[b] the
// derivative of the loss with respect to signal b's lam. Neighbours closer than
// rtol * max_k |y_k| (rtol >= 0) count as one segment.
template <class T>
void tv_denoise_vjp(index_t batch, index_t n, const T* y, const T* grad_y, double rtol, T* grad_x,
                    double* grad_lam, int num_threads = 0);

// One weight per edge: y = argmin_u 1/2 |u - x|^2 + sum_k w_k |u_k - u_{k+1}|, with signal b's
// n - 1 weights at w + b * w_stride (w_stride: 0, one set for all, or n - 1), each finite and
// >= 0 (else std::invalid_argument naming "lam"). Exact (Condat's direct algorithm with
// per-edge lam, else a taut string through a tube of half-width w_k at point k; a signal with
// NaN or Inf throws, naming "x"), IRLS (as tv_denoise_irls) and the backward, whose grad_w
// (batch x (n - 1)) gets each edge's dL/dw_k.
template <class T>
void tv_denoise_weighted(index_t batch, index_t n, const T* x, const double* w, index_t w_stride,
                         T* y, int num_threads = 0);
template <class T>
void tv_denoise_irls_weighted(index_t batch, index_t n, const T* x, const double* w,
                              index_t w_stride, double tol, index_t max_iter, T* y, index_t* nit,
                              double* change, int num_threads = 0, Interrupt* interrupt = nullptr);
template <class T>
void tv_denoise_vjp_weighted(index_t batch, index_t n, const T* y, const T* grad_y, double rtol,
                             T* grad_x, double* grad_w, int num_threads = 0);

// 2-D TV of batch images (h x w, row-major), anisotropic (|row differences| + |column
// differences|, exact 1-D solves in an accelerated dual splitting) or isotropic (the Euclidean
// norm of each pixel's forward differences, FISTA on the dual), each image stopping once its
// duality gap relative to the objective is <= tol or after max_iter iterations: nit[b] and
// gap[b] receive the counts and the final relative gaps. lam as tv_denoise (per image).
// Computed in double; images in sequence, each threaded over its rows / columns.
template <class T>
void tv_denoise_2d(index_t batch, index_t h, index_t w, const T* x, const double* lam,
                   index_t lam_stride, bool isotropic, double tol, index_t max_iter, T* y,
                   index_t* nit, double* gap, int num_threads = 0, Interrupt* interrupt = nullptr);

// Backward of the anisotropic 2-D prox at its solution y: grad_x averages grad_y over each
// connected region of fused neighbours (|y_p - y_q| <= rtol max|y|), grad_lam[b] = dL/dlam.
template <class T>
void tv_denoise_2d_vjp(index_t batch, index_t h, index_t w, const T* y, const T* grad_y,
                       double rtol, T* grad_x, double* grad_lam, int num_threads = 0);

}  // namespace optkern
