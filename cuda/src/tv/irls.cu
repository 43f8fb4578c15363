// The lecture notes' IRLS/MM iteration for 1-D TV on a CUDA device (optkern/cuda/tv.hpp): one
// thread per signal runs the whole loop (detail/tv_irls.hpp) with no host round trip, each
// signal stopping at its own tolerance. Its working arrays (a copy of x, u, the inverse pivots
// and the eliminated right-hand sides) are interleaved across signals, element k of signal b
// at k * batch + b, so that a warp's accesses to them are coalesced.
#include "common.cuh"
#include "optkern/cuda/tv.hpp"
#include "optkern/detail/tridiagonal_system.hpp"
#include "optkern/detail/tv_irls.hpp"

namespace optkern::cuda {
namespace {

using namespace tv_kernels;

template <class T>
__global__ void irls_per_signal(index_t batch, index_t n, const T* __restrict__ x,
                                const double* __restrict__ lam, index_t lam_stride, double tol,
                                index_t max_iter, T* __restrict__ y, index_t* __restrict__ nit,
                                double* __restrict__ change, double* work) {
  const index_t b = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= batch) return;
  const double l = lam[b * lam_stride];
  if (!valid_lambda(l)) {
    fill_nan(y + b * n, n);
    nit[b] = 0;
    change[b] = NAN;
    return;
  }
  const detail::Strided<double> xs{work + b, batch}, u{work + n * batch + b, batch},
      m{work + 2 * n * batch + b, batch}, r{work + 3 * n * batch + b, batch};
  for (index_t k = 0; k < n; ++k) xs[k] = double(x[b * n + k]);
  double last = 0;
  nit[b] = detail::irls_denoise(n, xs, l, tol, max_iter, y + b * n, u, m, r, &last);
  change[b] = last;
}

}  // namespace

std::size_t tv_denoise_irls_scratch_bytes(index_t batch, index_t n) {
  ScratchCarver carver;
  carver.take<double>(4 * batch * n);
  return carver.used();
}

template <class T>
void tv_denoise_irls(index_t batch, index_t n, const T* x, const double* lam, index_t lam_stride,
                     double tol, index_t max_iter, T* y, index_t* nit, double* change,
                     void* scratch, std::size_t scratch_bytes, cudaStream_t stream) {
  require(batch >= 0 && n >= 0, "n", "sizes must be non-negative");
  require(tol > 0 && tol <= DBL_MAX, "tol", "must be a finite number > 0");
  require(max_iter >= 1, "max_iter", "must be >= 1");
  if (batch == 0) return;
  require(x && y && lam && nit && change && (scratch || n == 0), "x", "null pointer");
  check_scratch(scratch_bytes, tv_denoise_irls_scratch_bytes(batch, n));
  irls_per_signal<T><<<blocks_for(batch), kThreads, 0, stream>>>(
      batch, n, x, lam, lam_stride, tol, max_iter, y, nit, change, static_cast<double*>(scratch));
  check(cudaGetLastError(), "tv_denoise_irls kernel launch");
}

template void tv_denoise_irls<float>(index_t, index_t, const float*, const double*, index_t,
                                     double, index_t, float*, index_t*, double*, void*,
                                     std::size_t, cudaStream_t);
template void tv_denoise_irls<double>(index_t, index_t, const double*, const double*, index_t,
                                      double, index_t, double*, index_t*, double*, void*,
                                      std::size_t, cudaStream_t);

}  // namespace optkern::cuda
