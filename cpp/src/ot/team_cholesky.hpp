// Dense symmetric kernels shared by a team of threads (team.hpp): the lower triangle of a Gram
// matrix G G^T, and a blocked right-looking Cholesky factorization whose panel solves and
// trailing updates are split over the team. Eigen's products run single-threaded inside each
// thread (the caller's parallel region sets OpenMP's thread count to 1 per thread).
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "ot/team.hpp"

namespace optkern::detail {

using MatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using BlockD = Eigen::Block<MatrixD>;

// This thread's rows [begin, end) of a lower triangle of `count` rows, in blocks of equal
// area (row p costs p + 1): edges at count * sqrt(t / size).
inline std::pair<index_t, index_t> triangle_share(index_t count, const Team& team) {
  auto edge = [&](int t) {
    return index_t(std::llround(double(count) * std::sqrt(double(t) / double(team.size))));
  };
  return {edge(team.rank), edge(team.rank + 1)};
}

// The lower triangle of S = G G^T (entries above the diagonal inside each thread's block of
// rows are written too, and are not meaningful). Ends with a barrier.
template <class GMatrix>
void team_gram_lower(const GMatrix& G, BlockD S, Team& team) {
  const auto [p0, p1] = triangle_share(G.rows(), team);
  if (p1 > p0)
    S.block(p0, 0, p1 - p0, p1).noalias() = G.middleRows(p0, p1 - p0) * G.topRows(p1).transpose();
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
    // Trailing update: A22 -= A21 A21^T (lower part), rows split by equal area.
    {
      const auto [q0, q1] = triangle_share(rest, team);
      if (q1 > q0) {
        const auto A21 = A.block(j0 + jb, j0, rest, jb);
        A.block(j0 + jb + q0, j0 + jb, q1 - q0, q1).noalias() -=
            A21.middleRows(q0, q1 - q0) * A21.topRows(q1).transpose();
      }
    }
    team.sync();
  }
  return true;
}

}  // namespace optkern::detail
