// Chain memory for the taut string (detail/tv_taut_string.hpp), one per thread.
#pragma once

#include <algorithm>
#include <memory>

#include "optkern/common.hpp"
#include "optkern/detail/tv_taut_string.hpp"

namespace optkern::tv_detail {

using Segment = detail::TautSegment<double>;

// Chain memory of one thread. Chains usually hold a handful of segments, so they start small
// (and uninitialised) and stay in L1 even for n = 1e7; a chain that outgrows half of its block
// moves to one twice as large, and the thread keeps the larger blocks for its next signals.
class ChainMemory {
 public:
  detail::TautChain<double> chain(int which) {
    Segment* base = blocks_[which].get();
    return {base, base + capacity_[which]};
  }

  // Moves a chain into a block twice as large (TautChain's grow hook).
  bool grow(detail::TautChain<double>& c) {
    const int which = c.begin == blocks_[0].get() ? 0 : 1;
    const index_t live = c.size(), capacity = 2 * capacity_[which];
    std::unique_ptr<Segment[]> block(new Segment[std::size_t(capacity)]);
    std::copy(c.head, c.tail, block.get());
    blocks_[which] = std::move(block);
    capacity_[which] = capacity;
    c = {blocks_[which].get(), blocks_[which].get() + capacity};
    c.tail = c.head + live;
    return true;
  }

 private:
  index_t capacity_[2] = {256, 256};
  std::unique_ptr<Segment[]> blocks_[2] = {std::unique_ptr<Segment[]>(new Segment[256]),
                                           std::unique_ptr<Segment[]>(new Segment[256])};
};

}  // namespace optkern::tv_detail
