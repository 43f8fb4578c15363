// Running a per-signal kernel over a batch of signals on OpenMP threads.
#pragma once

#include <algorithm>

#include "common/parallel_items.hpp"
#include "optkern/common.hpp"
#include "optkern/threads.hpp"

namespace optkern::tv_detail {

// Calls body(state, b) for b in [0, batch), where each thread makes its own `state` (its
// scratch memory) once with make_state(). Signals are handed out in chunks of about 16k
// samples so that short signals do not pay a scheduling step each. body must not throw.
// `interrupt` (may be null) is polled between chunks (common/parallel_items.hpp); the caller
// throws once this returns.
template <class MakeState, class Body>
void for_each_signal(index_t batch, index_t n, int num_threads, MakeState make_state, Body body,
                     Interrupt* interrupt = nullptr) {
  const int threads = num_threads > 0 ? num_threads : optkern::num_threads();
  const index_t chunk = std::clamp<index_t>(16384 / std::max<index_t>(n, 1), 1, 256);
  detail::parallel_items(batch, threads, chunk, interrupt, make_state, body);
}

// Throws unless every lam[b * stride] is finite and >= 0.
inline void check_lambdas(index_t batch, const double* lam, index_t stride) {
  const index_t count = stride == 0 ? std::min<index_t>(batch, 1) : batch;
  for (index_t b = 0; b < count; ++b) {
    const double v = lam[b * stride];
    require(v >= 0 && v <= 1.7976931348623157e308, "lam", "must be finite and >= 0");
  }
}

}  // namespace optkern::tv_detail
