// A team of threads working on one problem inside an OpenMP parallel region: its size, this
// thread's rank, contiguous shares of a range, and barriers that vanish for a team of one
// (a problem solved by a single thread while the other threads of the region solve others).
#pragma once

#include <algorithm>
#include <utility>

#include "optkern/common.hpp"

namespace optkern::detail {

struct Team {
  int size = 1;
  int rank = 0;
  // Per-thread copies of state that every thread of the team advances in step (so no thread
  // writes what another reads): reductions done so far, and which of two double-buffered
  // vectors holds the current iterate.
  int round = 0;
  int current = 0;

  // Every thread of the team must call this at the same point (or none, for a team of one).
  void sync() const {
    if (size > 1) {
#pragma omp barrier
    }
  }

  // This thread's share [begin, end) of 0..count, in contiguous blocks of nearly equal size.
  std::pair<index_t, index_t> share(index_t count) const {
    const index_t base = count / size, extra = count % size;
    const index_t begin = rank * base + std::min<index_t>(rank, extra);
    return {begin, begin + base + (rank < extra ? 1 : 0)};
  }
};

}  // namespace optkern::detail
