// The exact backward of the 1-D TV prox on the CPU (detail/tv_segments.hpp), over a batch.
#include <cmath>

#include "batch.hpp"
#include "optkern/detail/tv_segments.hpp"
#include "optkern/tv.hpp"

namespace optkern {

template <class T>
void tv_denoise_vjp(index_t batch, index_t n, const T* y, const T* grad_y, double rtol, T* grad_x,
                    double* grad_lam, int num_threads) {
  require(batch >= 0 && n >= 0, "n", "sizes must be non-negative");
  require(rtol >= 0 && std::isfinite(rtol), "rtol", "must be a finite number >= 0");
  if (batch == 0) return;
  require(y && grad_y && grad_x && grad_lam, "y", "null pointer");
  tv_detail::for_each_signal(batch, n, num_threads, [] { return 0; }, [&](int, index_t b) {
    grad_lam[b] = detail::segment_vjp(n, y + b * n, grad_y + b * n, rtol, grad_x + b * n);
  });
}

template void tv_denoise_vjp<float>(index_t, index_t, const float*, const float*, double, float*,
                                    double*, int);
template void tv_denoise_vjp<double>(index_t, index_t, const double*, const double*, double,
                                     double*, double*, int);

}  // namespace optkern
