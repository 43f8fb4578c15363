// The exact 1-D TV prox on the CPU over a batch of signals (denoise_one.hpp: Condat's direct
// algorithm with a budget, then the taut string), each thread keeping the taut string's two
// chains in memory it grows as needed.

#include <atomic>

#include "batch.hpp"
#include "chain_memory.hpp"
#include "denoise_one.hpp"
#include "optkern/tv.hpp"

namespace optkern {

using tv_detail::ChainMemory;
using tv_detail::denoise_one;

template <class T>
void tv_denoise(index_t batch, index_t n, const T* x, const double* lam, index_t lam_stride, T* y,
                int num_threads) {
  require(batch >= 0 && n >= 0, "n", "sizes must be non-negative");
  if (batch == 0 || n == 0) return;
  require(x && y && lam, "x", "null pointer");
  require(x + batch * n <= y || y + batch * n <= x, "y", "must not overlap x");
  tv_detail::check_lambdas(batch, lam, lam_stride);
  // The signals are checked for NaN and Inf on the way (the solver sums |x| anyway), so that
  // the Python layer need not scan them first; a thread only raises the flag.
  std::atomic<bool> non_finite{false};
  tv_detail::for_each_signal(batch, n, num_threads, [] { return ChainMemory{}; },
                             [&](ChainMemory& memory, index_t b) {
                               if (!denoise_one(n, x + b * n, lam[b * lam_stride], y + b * n,
                                                memory))
                                 non_finite.store(true, std::memory_order_relaxed);
                             });
  require(!non_finite.load(), "x", "expected finite values, got NaN or Inf");
}

template void tv_denoise<float>(index_t, index_t, const float*, const double*, index_t, float*,
                                int);
template void tv_denoise<double>(index_t, index_t, const double*, const double*, index_t,
                                 double*, int);

}  // namespace optkern
