// The argmax over all pairs (p < q) of a score that changes only on a few pairs per step.
//
// Scores live in a d x d row-major array (pair (p, q) at p*d + q, p < q). Each row p keeps the
// best of its pairs (p, q > p), so the global best is an O(d) scan over rows instead of an
// O(d^2) scan over pairs. When a step changes the scores of the pairs touching rows i and j,
// only rows i and j are rescanned, plus the rare rows whose best partner was i or j and got
// worse. Ties: the larger score wins, then the smaller p, then the smaller q.
#pragma once

#include <limits>
#include <vector>

#include "optkern/common.hpp"

namespace optkern::givens {

class PairArgmax {
 public:
  explicit PairArgmax(index_t d)
      : d_(d),
        score_(std::size_t(d * d), -std::numeric_limits<double>::infinity()),
        row_score_(std::size_t(d), -std::numeric_limits<double>::infinity()),
        row_col_(std::size_t(d), -1),
        dirty_(std::size_t(d), 0) {}

  index_t dim() const { return d_; }
  double* scores() { return score_.data(); }
  double score(index_t p, index_t q) const { return score_[std::size_t(p * d_ + q)]; }

  // Recompute the best of row p from scratch (O(d - p)).
  void rescan(index_t p) {
    const double* s = score_.data() + p * d_;
    double best = -std::numeric_limits<double>::infinity();
    index_t col = -1;
    for (index_t q = p + 1; q < d_; ++q)
      if (s[q] > best) {  // strict: the first (smallest q) of equal scores stays
        best = s[q];
        col = q;
      }
    row_score_[std::size_t(p)] = best;
    row_col_[std::size_t(p)] = col;
    dirty_[std::size_t(p)] = 0;
  }

  void rescan_all() {
    for (index_t p = 0; p < d_; ++p) rescan(p);
  }

  // Pair (p, q) has a new score (already written to scores()). Rows whose best got worse are
  // only marked; flush() rescans them.
  void updated(index_t p, index_t q) {
    const double s = score(p, q);
    double& best = row_score_[std::size_t(p)];
    index_t& col = row_col_[std::size_t(p)];
    if (s > best || (s == best && q < col)) {
      best = s;
      col = q;
    } else if (col == q && s < best) {
      dirty_[std::size_t(p)] = 1;
    }
  }

  void mark(index_t p) { dirty_[std::size_t(p)] = 1; }

  void flush() {
    for (index_t p = 0; p < d_; ++p)
      if (dirty_[std::size_t(p)]) rescan(p);
  }

  // The best pair, or p = q = -1 when there is no pair (d < 2).
  void argmax(index_t& p, index_t& q, double& s) const {
    p = q = -1;
    s = -std::numeric_limits<double>::infinity();
    for (index_t r = 0; r + 1 < d_; ++r)
      if (row_score_[std::size_t(r)] > s) {
        s = row_score_[std::size_t(r)];
        p = r;
      }
    if (p >= 0) q = row_col_[std::size_t(p)];
  }

  // argmax(p, q, s), and whether that pair exists and its score is above floor (false once an
  // engine has converged).
  bool argmax_above(double floor, index_t& p, index_t& q, double& s) const {
    argmax(p, q, s);
    return p >= 0 && s > floor;
  }

  // After rows i and j changed: every pair touching them has a new score. Rows i and j are
  // rescanned; other rows see their one or two changed pairs.
  void rows_changed(index_t i, index_t j) {
    for (index_t p = 0; p < d_; ++p) {
      if (p == i || p == j) continue;
      if (p < i) updated(p, i);
      if (p < j) updated(p, j);
    }
    rescan(i);
    rescan(j);
    flush();
  }

 private:
  index_t d_;
  std::vector<double> score_;
  std::vector<double> row_score_;
  std::vector<index_t> row_col_;
  std::vector<char> dirty_;
};

}  // namespace optkern::givens
