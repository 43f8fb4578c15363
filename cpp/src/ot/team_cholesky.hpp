// Dense symmetric kernels shared by a team of threads (team.hpp): the lower triangle of a Gram
// matrix G G^T, and a blocked right-looking Cholesky factorization whose panel solves and
// trailing updates are split over the team. Eigen's products run single-threaded inside each
// thread (the caller's parallel region sets OpenMP's thread count to 1 per thread).
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "optkern/linalg.hpp"
#include "ot/team.hpp"

namespace optkern::detail {

using MatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using BlockD = Eigen::Block<MatrixD>;

// A lower triangle of `count` rows cut into bands of equal area (row p costs p + 1; edges at
// count * sqrt(b / bands)), several per thread so that the part above the diagonal that a
// band's rectangle also covers stays small: f(begin, end) for each band of this thread.
template <class F>
void for_triangle_bands(index_t count, const Team& team, F f) {
  const int bands = 8 * team.size;
  auto edge = [&](int b) {
    return index_t(std::llround(double(count) * std::sqrt(double(b) / double(bands))));
  };
  for (int b = team.rank; b < bands; b += team.size) {
    const index_t begin = edge(b), end = edge(b + 1);
    if (end > begin) f(begin, end);
  }
}

// The lower triangle of S = G G^T (entries above the diagonal inside each thread's block of
// rows are written too, and are not meaningful), by optkern's GEMM (faster than Eigen's here)
// from G and its transpose Gt, both read along rows. Ends with a barrier.
inline void team_gram_lower(Eigen::Block<const MatrixD> G, Eigen::Block<const MatrixD> Gt,
                            BlockD S, Team& team) {
  for_triangle_bands(G.rows(), team, [&](index_t p0, index_t p1) {
    const index_t gs = G.outerStride(), ts = Gt.outerStride(), ss = S.outerStride();
    MatrixBatch<const double> a, b;
    MatrixBatch<double> c;
    a.data = G.data() + p0 * gs;  // rows p0..p1 of G
    a.rows = p1 - p0;
    a.cols = G.cols();
    a.row_stride = gs;
    a.col_stride = 1;
    b.data = Gt.data();  // columns 0..p1 of G^T
    b.rows = Gt.rows();
    b.cols = p1;
    b.row_stride = ts;
    b.col_stride = 1;
    c.data = S.data() + p0 * ss;
    c.rows = p1 - p0;
    c.cols = p1;
    c.row_stride = ss;
    c.col_stride = 1;
    bmm<double>(BatchShape{}, a, b, c, 1);
  });
  team.sync();
}

// Factors the lower triangle of A (N x N) in place into L with A = L L^T. Returns false, the
// same in every thread, when a pivot L_jj^2 is not above threshold * diag[j] (a matrix that
// is not numerically positive definite; `diag` holds A's diagonal before the call). `ok` is a
// flag shared by the team. Ends with a barrier.
inline bool team_cholesky(BlockD A, const double* diag, double threshold, Team& team, bool* ok) {
  constexpr index_t kBlock = 96;
  const index_t N = A.rows();
  for (index_t j0 = 0; j0 < N; j0 += kBlock) {
    const index_t jb = std::min(kBlock, N - j0), rest = N - j0 - jb;
    auto A11 = A.block(j0, j0, jb, jb);
    if (team.rank == 0) {
      Eigen::LLT<Eigen::Ref<MatrixD>, Eigen::Lower> llt(A11);  // factors in place
      bool good = llt.info() == Eigen::Success;
      for (index_t p = 0; good && p < jb; ++p) {
        const double pivot = A11(p, p) * A11(p, p);
        good = std::isfinite(pivot) && pivot > threshold * diag[j0 + p];
      }
      *ok = good;
    }
    team.sync();
    if (!*ok) return false;
    if (rest == 0) break;
    // Panel: A21 <- A21 L11^-T, rows split over the team.
    {
      const auto [q0, q1] = team.share(rest);
      if (q1 > q0) {
        auto rows = A.block(j0 + jb + q0, j0, q1 - q0, jb);
        A11.transpose().template triangularView<Eigen::Upper>().template solveInPlace<Eigen::OnTheRight>(
            rows);
      }
    }
    team.sync();
    // Trailing update: A22 -= A21 A21^T (lower part), in bands of equal area.
    const auto A21 = A.block(j0 + jb, j0, rest, jb);
    for_triangle_bands(rest, team, [&](index_t q0, index_t q1) {
      A.block(j0 + jb + q0, j0 + jb, q1 - q0, q1).noalias() -=
          A21.middleRows(q0, q1 - q0) * A21.topRows(q1).transpose();
    });
    team.sync();
  }
  return true;
}

}  // namespace optkern::detail
