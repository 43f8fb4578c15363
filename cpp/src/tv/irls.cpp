// The lecture notes' IRLS/MM iteration for 1-D TV on the CPU (detail/tv_irls.hpp), each
// signal iterating to its own tolerance. A batch is split over threads; a single long signal
// is split instead: one thread eliminates the top half of each tridiagonal system downwards
// while another eliminates the bottom half upwards (a twisted factorization), which halves
// the length of the sequential sweeps.
#include <omp.h>

#include <algorithm>

#include <cmath>
#include <vector>

#include "batch.hpp"
#include "optkern/detail/tv_irls.hpp"
#include "optkern/tv.hpp"

namespace optkern {
namespace {

// Below this length the two barriers per iteration cost more than half a sweep saves.
constexpr index_t kTwistedMinLength = 1 << 15;

// The IRLS of one signal (n >= 3, lam > 0) on two threads, one per half of every system.
template <class T>
index_t irls_two_threads(index_t n, const T* x, double lam, double tol, index_t max_iter, T* y,
                         double* change) {
  std::vector<double> work(3 * std::size_t(n));
  double *u = work.data(), *m = u + n, *r = m + n;
  const double inv_lam = detail::irls_inverse_lambda(lam);
  const index_t j = (n - 1) / 2;
  for (index_t k = 0; k < n; ++k) u[k] = double(x[k]);
  detail::IrlsEdge<double> edges[2];
  detail::IrlsChange<double> parts[2];
  index_t nit = 0;
  double rel = INFINITY;
#pragma omp parallel num_threads(2)
  {
    const int tid = omp_get_thread_num(), threads = omp_get_num_threads();
    for (index_t it = 0; it < max_iter; ++it) {
      for (int side = tid; side < 2; side += threads)
        edges[side] = detail::irls_eliminate(n, x, inv_lam, u, m, r, j, side == 1);
#pragma omp barrier
      const double w_j = detail::irls_middle(x, inv_lam, u, j, edges[0], edges[1]);
#pragma omp barrier  // every thread has read u_j and u_{j+1} before they change
      for (int side = tid; side < 2; side += threads)
        parts[side] = detail::irls_substitute(n, x, u, m, r, j, w_j, side == 1);
#pragma omp barrier
      const double now = detail::irls_relative_change(parts[0], parts[1]);
      if (tid == 0) {
        nit = it + 1;
        rel = now;
      }
      if (now <= tol) break;  // every thread sees the same value
    }
  }
  for (index_t k = 0; k < n; ++k) y[k] = T(u[k]);
  *change = rel;
  return nit;
}

}  // namespace

template <class T>
void tv_denoise_irls(index_t batch, index_t n, const T* x, const double* lam, index_t lam_stride,
                     double tol, index_t max_iter, T* y, index_t* nit, double* change,
                     int num_threads) {
  require(batch >= 0 && n >= 0, "n", "sizes must be non-negative");
  require(tol > 0 && std::isfinite(tol), "tol", "must be a finite number > 0");
  require(max_iter >= 1, "max_iter", "must be >= 1");
  if (batch == 0) return;
  require(x && y && lam && nit && change, "x", "null pointer");
  tv_detail::check_lambdas(batch, lam, lam_stride);
  const int threads = num_threads > 0 ? num_threads : optkern::num_threads();
  if (batch < threads && threads >= 2 && n >= kTwistedMinLength) {
    for (index_t b = 0; b < batch; ++b) {
      const double lam_b = lam[b * lam_stride];
      if (lam_b == 0) {  // the identity, as irls_denoise gives it
        std::copy(x + b * n, x + (b + 1) * n, y + b * n);
        nit[b] = 0;
        change[b] = 0;
        continue;
      }
      nit[b] = irls_two_threads(n, x + b * n, lam_b, tol, max_iter, y + b * n, &change[b]);
    }
    return;
  }
  tv_detail::for_each_signal(
      batch, n, num_threads, [n] { return std::vector<double>(3 * std::size_t(n)); },
      [&](std::vector<double>& work, index_t b) {
        double* u = work.data();
        nit[b] = detail::irls_denoise(n, x + b * n, lam[b * lam_stride], tol, max_iter, y + b * n,
                                      u, u + n, u + 2 * n, &change[b]);
      });
}

template void tv_denoise_irls<float>(index_t, index_t, const float*, const double*, index_t,
                                     double, index_t, float*, index_t*, double*, int);
template void tv_denoise_irls<double>(index_t, index_t, const double*, const double*, index_t,
                                      double, index_t, double*, index_t*, double*, int);

}  // namespace optkern
