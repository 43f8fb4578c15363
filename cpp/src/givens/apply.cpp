// Applying a Givens sequence to a batch of matrices: each factor touches two rows, so a
// sequence of n factors costs 6 n flops per column.
//
// Columns are processed in blocks narrow enough that the block of every row stays in L1/L2
// while the whole sequence runs over it; blocks (and matrices) are independent, so they are
// shared among threads.
#include <omp.h>

#include <algorithm>

#include "common/parallel_guard.hpp"
#include "optkern/givens.hpp"
#include "optkern/threads.hpp"
#include "shared.hpp"

namespace optkern::givens {

template <class T>
void apply_sequence(index_t n, const index_t* i, const index_t* j, const T* cos, const T* sin,
                    T* x, index_t batch, index_t d, index_t cols, bool transpose,
                    int num_threads) {
  detail::check_factors(n, i, j, batch, d, cols);
  if (n == 0 || batch == 0 || cols == 0) return;
  const index_t width =
      std::max<index_t>(1, std::min(cols, detail::kBlockBytes / index_t(sizeof(T))));
  const index_t blocks = (cols + width - 1) / width;
  const index_t tasks = batch * blocks;
  int threads =
      optkern::detail::region_threads(num_threads > 0 ? num_threads : optkern::num_threads());
  // Threads only pay off with enough work per task (n factors times a block of columns).
  if (double(n) * double(std::min(cols, width)) * double(tasks) < 2e5) threads = 1;
  optkern::detail::RegionErrors errors;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (index_t task = 0; task < tasks; ++task) {
    if (errors.failed()) continue;
    errors.guard([&] {
      const index_t b = task / blocks, c0 = (task % blocks) * width;
      detail::rotate_block(n, i, j, cos, sin, x + b * d * cols, cols, c0,
                           std::min(width, cols - c0), transpose);
    });
  }
  errors.rethrow_if_failed();
}

template void apply_sequence<float>(index_t, const index_t*, const index_t*, const float*,
                                    const float*, float*, index_t, index_t, index_t, bool, int);
template void apply_sequence<double>(index_t, const index_t*, const index_t*, const double*,
                                     const double*, double*, index_t, index_t, index_t, bool,
                                     int);

}  // namespace optkern::givens
