// The lecture notes' IRLS/MM iteration for 1-D TV on a CUDA device (optkern/cuda/tv.hpp). The
// whole loop runs on the device, each signal stopping at its own tolerance.
//
// Many signals: one thread per signal runs detail/tv_irls.hpp. Its working arrays (a copy of
// x, u, the inverse pivots and the eliminated right-hand sides) are interleaved across
// signals, element k of signal b at k * batch + b, so that a warp's accesses coalesce.
// Few long signals: one block per signal; each iteration solves its tridiagonal system by the
// partition method (partition.cuh) and updates u with all the block's threads.
#include "common.cuh"
#include "optkern/cuda/tv.hpp"
#include "partition.cuh"
#include "optkern/linalg/tridiagonal_system.hpp"
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

// The system T w = D x of one IRLS step, read through u: off-diagonals -1, diagonal
// |u_i - u_{i+1}| / lam + 2, right-hand side x_i - x_{i+1}.
struct MinusOne {
  __device__ double operator[](index_t) const { return -1.0; }
};
struct IrlsDiagonal {
  const double* u;
  double inv_lam;
  __device__ double operator[](index_t i) const { return fabs(u[i] - u[i + 1]) * inv_lam + 2.0; }
};
template <class T>
struct Differences {
  const T* x;
  __device__ double operator[](index_t i) const { return double(x[i]) - double(x[i + 1]); }
};

// Max-reduces two values over the block (every thread gets the results).
__device__ void block_max2(double* shared, double& a, double& b) {
  shared[threadIdx.x] = a;
  shared[blockDim.x + threadIdx.x] = b;
  __syncthreads();
  for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      shared[threadIdx.x] = fmax(shared[threadIdx.x], shared[threadIdx.x + half]);
      shared[blockDim.x + threadIdx.x] =
          fmax(shared[blockDim.x + threadIdx.x], shared[blockDim.x + threadIdx.x + half]);
    }
    __syncthreads();
  }
  a = shared[0];
  b = shared[blockDim.x];
  __syncthreads();
}

// One block per signal (blockDim.x a power of two, n - 1 >= 2 blockDim.x - 1); work: 6n
// doubles per signal (u, w and the partition's four arrays).
template <class T>
__global__ void irls_per_block(index_t n, const T* __restrict__ x, const double* __restrict__ lam,
                               index_t lam_stride, double tol, index_t max_iter,
                               T* __restrict__ y, index_t* __restrict__ nit,
                               double* __restrict__ change, double* work) {
  extern __shared__ double shared[];
  const index_t b = blockIdx.x, tid = threadIdx.x, threads = blockDim.x;
  const T* xb = x + b * n;
  T* yb = y + b * n;
  double* u = work + b * 6 * n;
  double* w = u + n;
  const double l = lam[b * lam_stride];
  if (!valid_lambda(l) || l == 0) {
    for (index_t k = tid; k < n; k += threads) yb[k] = valid_lambda(l) ? xb[k] : T(NAN);
    if (tid == 0) {
      nit[b] = 0;
      change[b] = valid_lambda(l) ? 0.0 : NAN;
    }
    return;
  }
  const double inv_lam = fmin(1.0 / l, DBL_MAX);
  for (index_t k = tid; k < n; k += threads) u[k] = double(xb[k]);
  __syncthreads();
  const IrlsDiagonal diag{u, inv_lam};
  const Differences<T> rhs{xb};
  index_t it = 0;
  double rel = INFINITY;
  while (it < max_iter) {
    ++it;
    if (!block_partition_solve<double>(n - 1, MinusOne{}, diag, MinusOne{}, rhs, w, w + n,
                                       shared)) {
      // not expected (the matrix is SPD and diagonally dominant), but never wrong
      if (tid == 0)
        detail::thomas_solve<double>(n - 1, MinusOne{}, diag, MinusOne{}, rhs, w, w + n,
                                     w + 2 * n);
      __syncthreads();
    }
    double delta = 0, size = 0;  // u_j = x_j - w_j + w_{j-1}, w_{-1} = w_{n-1} = 0
    for (index_t j = tid; j < n; j += threads) {
      const double u_new = double(xb[j]) - (j < n - 1 ? w[j] : 0.0) + (j > 0 ? w[j - 1] : 0.0);
      delta = fmax(delta, fabs(u_new - u[j]));
      size = fmax(size, fabs(u_new));
      u[j] = u_new;
    }
    block_max2(shared, delta, size);  // also the barrier before the next step reads u
    rel = delta > 0 ? delta / size : 0.0;
    if (rel <= tol) break;
  }
  for (index_t k = tid; k < n; k += threads) yb[k] = T(u[k]);
  if (tid == 0) {
    nit[b] = it;
    change[b] = rel;
  }
}

int irls_block_threads(index_t n) {
  int p = partition_workers(n - 1);
  int pow2 = 1;
  while (2 * pow2 <= p) pow2 *= 2;  // block_max2 halves: a power of two
  return pow2;
}

}  // namespace

std::size_t tv_denoise_irls_scratch_bytes(index_t batch, index_t n) {
  ScratchCarver carver;
  carver.take<double>((prefer_partition(batch, n) ? 6 : 4) * batch * n);
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
  if (prefer_partition(batch, n)) {
    const int threads = irls_block_threads(n);
    const std::size_t shared = partition_shared_bytes<double>(threads);  // >= 2 threads doubles
    irls_per_block<T><<<unsigned(batch), threads, shared, stream>>>(
        n, x, lam, lam_stride, tol, max_iter, y, nit, change, static_cast<double*>(scratch));
  } else {
    irls_per_signal<T><<<blocks_for(batch), kThreads, 0, stream>>>(
        batch, n, x, lam, lam_stride, tol, max_iter, y, nit, change,
        static_cast<double*>(scratch));
  }
  check(cudaGetLastError(), "tv_denoise_irls kernel launch");
}

template void tv_denoise_irls<float>(index_t, index_t, const float*, const double*, index_t,
                                     double, index_t, float*, index_t*, double*, void*,
                                     std::size_t, cudaStream_t);
template void tv_denoise_irls<double>(index_t, index_t, const double*, const double*, index_t,
                                      double, index_t, double*, index_t*, double*, void*,
                                      std::size_t, cudaStream_t);

}  // namespace optkern::cuda
