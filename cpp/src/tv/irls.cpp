// The lecture notes' IRLS/MM iteration for 1-D TV on the CPU (detail/tv_irls.hpp), each
// signal iterating to its own tolerance, the batch split over threads. (A single long signal
// stays on one thread: splitting each tridiagonal sweep between two threads needs three
// barriers per iteration, and on this shared 2-core machine they made it 2x slower, not 2x
// faster.)
#include <cmath>
#include <vector>

#include "batch.hpp"
#include "optkern/detail/tv_irls.hpp"
#include "optkern/tv.hpp"

namespace optkern {

template <class T>
void tv_denoise_irls(index_t batch, index_t n, const T* x, const double* lam, index_t lam_stride,
                     double tol, index_t max_iter, T* y, index_t* nit, double* change,
                     int num_threads, Interrupt* interrupt) {
  require(batch >= 0 && n >= 0, "n", "sizes must be non-negative");
  require(tol > 0 && std::isfinite(tol), "tol", "must be a finite number > 0");
  require(max_iter >= 1, "max_iter", "must be >= 1");
  if (batch == 0) return;
  require(x && y && lam && nit && change, "x", "null pointer");
  tv_detail::check_lambdas(batch, lam, lam_stride);
  tv_detail::for_each_signal(
      batch, n, num_threads, [n] { return std::vector<double>(3 * std::size_t(n)); },
      [&](std::vector<double>& work, index_t b) {
        double* u = work.data();
        nit[b] = detail::irls_denoise(n, x + b * n, lam[b * lam_stride], tol, max_iter, y + b * n,
                                      u, u + n, u + 2 * n, &change[b],
                                      [interrupt] { return detail::poll(interrupt); });
      },
      interrupt);
  detail::throw_if_stopped(interrupt);
}

template void tv_denoise_irls<float>(index_t, index_t, const float*, const double*, index_t,
                                     double, index_t, float*, index_t*, double*, int,
                                     Interrupt*);
template void tv_denoise_irls<double>(index_t, index_t, const double*, const double*, index_t,
                                      double, index_t, double*, index_t*, double*, int,
                                      Interrupt*);

}  // namespace optkern
