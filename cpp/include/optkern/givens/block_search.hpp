// The exact best rotation of a 2 x d block for the L1 norm, in O(d) time.
//
// Every column k gives one breakpoint theta_k = atan(t_k), t_k in (-1, 1] (rotation_math.hpp),
// and the minimum of g over theta is at a breakpoint (Proposition 1). g at a breakpoint
// follows from the sums of the sector coordinates (x, y) over the columns whose tangent is
// <= t (rotated_l1), so sorting the tangents and sweeping them once is exact.
//
// Bucket, bound, then sort only what can win:
//  1. one vectorised pass over the columns puts each in one of nb = d/4 buckets of equal
//     width in t (a list per bucket) and adds its x, y and a lower bound of r = hypot(x, y) to
//     the bucket's sums;
//  2. a pass over the buckets gives g at every bucket edge (an upper bound U on the minimum)
//     and a lower bound on g inside each bucket: the columns outside the bucket add up to a
//     concave function there (no kink), minimal at an end of the bucket, and each column
//     inside adds at least r_k (h >= 1);
//  3. only buckets whose lower bound is <= U (plus a rounding margin) can hold the minimum;
//     their columns (a few percent on dense blocks) are sorted and swept exactly, from the
//     prefix sums of the buckets before them.
// Columns with equal tangents are one breakpoint, evaluated once with all of them included;
// equal minima keep the smallest tangent. The result is the exact minimum over all
// breakpoints, whatever the pruning did.
#pragma once

#include <vector>

#include "optkern/common.hpp"

namespace optkern::givens {

struct BlockRotation;

class BlockSearch {
 public:
  explicit BlockSearch(index_t d);

  // Rows a and b of length d (the constructor's). Not thread-safe: one object per thread.
  template <class T>
  BlockRotation best(const T* a, const T* b);

  // Columns evaluated exactly by the last call to best() (for tests and benchmarks).
  index_t last_exact_columns() const { return last_exact_; }

  struct Candidate {
    double t, x, y;
    int bucket;
  };

 private:
  index_t d_;
  int buckets_;
  index_t last_exact_ = 0;
  std::vector<double> edge_cos_, edge_sin_;  // cos and sin at the nb + 1 bucket edges
  std::vector<double> sums_;     // per bucket (one more for zero columns): x, y, rho, |y|
  std::vector<double> prefix_;   // per bucket: sums of x and y over the buckets before it
  std::vector<double> bound_;    // per bucket: lower bound of g on it
  std::vector<int> bucket_;      // per column
  std::vector<int> head_, next_;  // per bucket, its columns as a list
  std::vector<Candidate> candidates_;
};

}  // namespace optkern::givens
