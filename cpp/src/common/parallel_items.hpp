// Independent items (the problems or signals of a batch) on OpenMP threads, interruptibly.
#pragma once

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "common/parallel_guard.hpp"
#include "optkern/common.hpp"
#include "optkern/interrupt.hpp"

namespace optkern::detail {

// Calls body(state, k) for k in [0, count) on `threads` threads, handing out `chunk` items at a
// time in order; each thread makes its own `state` (scratch memory) once with make_state().
// Inside a long item, body polls the interrupt itself. An exception from make_state or body
// (std::bad_alloc for scratch memory, most often) stops the other threads at their next item
// and is rethrown here, on the calling thread, once every thread has left the region.
//
// With an interrupt, no chunk starts once it has stopped, and the calling thread (thread 0,
// the only one that runs the caller's check), once out of chunks, keeps polling while the
// others finish theirs: otherwise a stop would go unseen for as long as the last items run.
// The caller throws (detail::throw_if_stopped) after this returns.
template <class MakeState, class Body>
void parallel_items(index_t count, int threads, index_t chunk, Interrupt* interrupt,
                    MakeState make_state, Body body) {
  if (count <= 0) return;
  threads = region_threads(int(std::max<index_t>(1, std::min<index_t>(threads, count))));
  chunk = std::max<index_t>(1, chunk);
  if (threads == 1) {  // no parallel region: it costs microseconds, a short item less
    auto state = make_state();
    for (index_t k = 0; k < count; ++k) {
      if (poll(interrupt)) return;
      body(state, k);
    }
    return;
  }
  std::atomic<index_t> next{0};
  std::atomic<int> finished{0};
  RegionErrors errors;
#pragma omp parallel num_threads(threads)
  {
    errors.guard([&] {
      auto state = make_state();
      for (;;) {
        if (errors.failed() || poll(interrupt)) break;
        const index_t first = next.fetch_add(chunk, std::memory_order_relaxed);
        if (first >= count) break;
        const index_t last = std::min(count, first + chunk);
        for (index_t k = first; k < last && !errors.failed(); ++k) body(state, k);
      }
    });
    finished.fetch_add(1, std::memory_order_acq_rel);
    if (interrupt != nullptr && omp_get_thread_num() == 0) {
      // The region may have fewer threads than asked for.
      const int team = omp_get_num_threads();
      while (finished.load(std::memory_order_acquire) < team && !interrupt->poll())
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  errors.rethrow_if_failed();
}

}  // namespace optkern::detail
