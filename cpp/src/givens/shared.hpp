// What the kernels of cpp/src/givens share: apply.cpp and apply_signed.cpp the check of a
// sequence's factors and the rotation of one block of columns by every factor (run while the
// block is in cache); the engines the walk over the pairs a rotation changes. In
// optkern::detail, where the engines' detail::poll is too.
#pragma once

#include <algorithm>
#include <string>

#include "optkern/common.hpp"

namespace optkern::detail {

// Enough columns to vectorise the row updates, few enough that a (d x width) block of a
// large matrix stays in cache across the sequence.
constexpr index_t kBlockBytes = 512;

// The sizes are non-negative and factor k rotates rows 0 <= i[k] < j[k] < d.
inline void check_factors(index_t n, const index_t* i, const index_t* j, index_t batch, index_t d,
                          index_t cols) {
  require(n >= 0 && batch >= 0 && d >= 0 && cols >= 0, "n", "sizes must be non-negative");
  for (index_t k = 0; k < n; ++k)
    if (!(0 <= i[k] && i[k] < j[k] && j[k] < d))  // the message is built only on failure
      require(false, "i",
              "factor " + std::to_string(k) + " needs rows 0 <= i < j < " + std::to_string(d));
}

// G_1 ... G_n (or its transpose) over columns [c0, c0 + width) of the rows of x, whose row
// stride is `stride`.
template <class T>
inline void rotate_block(index_t n, const index_t* fi, const index_t* fj, const T* fc, const T* fs,
                         T* x, index_t stride, index_t c0, index_t width, bool transpose) {
  for (index_t m = 0; m < n; ++m) {
    const index_t k = transpose ? m : n - 1 - m;
    // G acts on rows (i, j) as [[c, s], [-s, c]]; its transpose as [[c, -s], [s, c]].
    const T c = fc[k], s = transpose ? -fs[k] : fs[k];
    T* __restrict xi = x + fi[k] * stride + c0;
    T* __restrict xj = x + fj[k] * stride + c0;
    for (index_t col = 0; col < width; ++col) {
      const T a = xi[col], b = xj[col];
      xi[col] = c * a + s * b;
      xj[col] = c * b - s * a;
    }
  }
}

// f(r, s, lo, hi) for every row r but i and j and each s of i, j, with (lo, hi) = r and s in
// order: the pairs whose score a rotation of rows (i, j) changes, (i, j) itself aside. The
// pairs with i come before those with j for each r.
template <class F>
inline void for_each_touched_pair(index_t i, index_t j, index_t d, F&& f) {
  for (index_t r = 0; r < d; ++r) {
    if (r == i || r == j) continue;
    f(r, i, std::min(r, i), std::max(r, i));
    f(r, j, std::min(r, j), std::max(r, j));
  }
}

}  // namespace optkern::detail
