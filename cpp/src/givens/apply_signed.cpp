// A GivensSequence with its signed permutation applied out of place: dst = G_1 ... G_n P src
// (or its transpose), in one pass over src and dst. Each task gathers a block of columns of
// src into a contiguous per-thread buffer (through P for the product; plainly for the
// transpose), runs every factor over it while it stays in cache, and writes it to dst
// (through P^T for the transpose). Same blocking and threading as apply_sequence (apply.cpp).
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "optkern/givens.hpp"
#include "optkern/threads.hpp"
#include "shared.hpp"

namespace optkern::givens {

template <class T>
void apply_sequence_signed(index_t n, const index_t* i, const index_t* j, const T* cos,
                           const T* sin, const index_t* perm, const std::int8_t* signs,
                           const T* src, T* dst, index_t batch, index_t d, index_t cols,
                           bool transpose, int num_threads) {
  detail::check_factors(n, i, j, batch, d, cols);
  std::vector<index_t> inv;
  if (perm != nullptr) {
    inv.assign(std::size_t(d), -1);
    for (index_t b = 0; b < d; ++b) {
      require(0 <= perm[b] && perm[b] < d && inv[std::size_t(perm[b])] < 0, "permutation",
              "expected a permutation of 0 .. d-1");
      inv[std::size_t(perm[b])] = b;
    }
  }
  if (batch == 0 || cols == 0 || d == 0) return;
  const index_t width =
      std::max<index_t>(1, std::min(cols, detail::kBlockBytes / index_t(sizeof(T))));
  const index_t blocks = (cols + width - 1) / width;
  const index_t tasks = batch * blocks;
  int threads = num_threads > 0 ? num_threads : optkern::num_threads();
  if (double(n + 2) * double(std::min(cols, width)) * double(tasks) < 2e5) threads = 1;
  threads = int(std::max<index_t>(1, std::min<index_t>(threads, tasks)));
  // every buffer is allocated here, not in the parallel region (no throw inside it)
  std::vector<T> buffers(std::size_t(threads) * std::size_t(d) * std::size_t(width));
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (index_t task = 0; task < tasks; ++task) {
    const index_t b = task / blocks, c0 = (task % blocks) * width;
    const index_t w = std::min(width, cols - c0);
    T* tmp = buffers.data() + std::size_t(omp_get_thread_num()) * std::size_t(d * width);
    const T* in = src + b * d * cols + c0;
    T* out = dst + b * d * cols + c0;
    // gather: (P X)[a] = signs[inv[a]] X[inv[a]] for the product, X itself for the transpose
    for (index_t a = 0; a < d; ++a) {
      const bool gather = perm != nullptr && !transpose;
      const index_t row = gather ? inv[std::size_t(a)] : a;
      const T s = gather ? T(signs[row]) : T(1);
      const T* from = in + row * cols;
      T* to = tmp + a * w;
      for (index_t col = 0; col < w; ++col) to[col] = s * from[col];
    }
    detail::rotate_block(n, i, j, cos, sin, tmp, w, 0, w, transpose);
    // scatter: (P^T Y)[b] = signs[b] Y[perm[b]] for the transpose
    for (index_t r = 0; r < d; ++r) {
      const bool scatter = perm != nullptr && transpose;
      const index_t row = scatter ? perm[r] : r;
      const T s = scatter ? T(signs[r]) : T(1);
      const T* from = tmp + row * w;
      T* to = out + r * cols;
      for (index_t col = 0; col < w; ++col) to[col] = s * from[col];
    }
  }
}

template void apply_sequence_signed<float>(index_t, const index_t*, const index_t*, const float*,
                                           const float*, const index_t*, const std::int8_t*,
                                           const float*, float*, index_t, index_t, index_t, bool,
                                           int);
template void apply_sequence_signed<double>(index_t, const index_t*, const index_t*,
                                            const double*, const double*, const index_t*,
                                            const std::int8_t*, const double*, double*, index_t,
                                            index_t, index_t, bool, int);

}  // namespace optkern::givens
