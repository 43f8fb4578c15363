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

namespace optkern::givens {
namespace {

// Enough columns to vectorise the row updates, few enough that a (d x width) block of a
// large matrix stays in cache across the sequence.
constexpr index_t kBlockBytes = 512;

template <class T>
void apply_block(index_t n, const index_t* fi, const index_t* fj, const T* fc, const T* fs, T* x,
                 index_t cols, index_t c0, index_t width, bool transpose) {
  for (index_t m = 0; m < n; ++m) {
    const index_t k = transpose ? m : n - 1 - m;
    // G acts on rows (i, j) as [[c, s], [-s, c]]; its transpose as [[c, -s], [s, c]].
    const T c = fc[k], s = transpose ? -fs[k] : fs[k];
    T* __restrict xi = x + fi[k] * cols + c0;
    T* __restrict xj = x + fj[k] * cols + c0;
    for (index_t col = 0; col < width; ++col) {
      const T a = xi[col], b = xj[col];
      xi[col] = c * a + s * b;
      xj[col] = c * b - s * a;
    }
  }
}

}  // namespace

template <class T>
void apply_sequence(index_t n, const index_t* i, const index_t* j, const T* cos, const T* sin,
                    T* x, index_t batch, index_t d, index_t cols, bool transpose,
                    int num_threads) {
  require(n >= 0 && batch >= 0 && d >= 0 && cols >= 0, "n", "sizes must be non-negative");
  for (index_t k = 0; k < n; ++k)
    if (!(0 <= i[k] && i[k] < j[k] && j[k] < d))  // the message is built only on failure
      require(false, "i",
              "factor " + std::to_string(k) + " needs rows 0 <= i < j < " + std::to_string(d));
  if (n == 0 || batch == 0 || cols == 0) return;
  const index_t width = std::max<index_t>(1, std::min(cols, kBlockBytes / index_t(sizeof(T))));
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
      apply_block(n, i, j, cos, sin, x + b * d * cols, cols, c0, std::min(width, cols - c0),
                  transpose);
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
