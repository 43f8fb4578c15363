// Running a per-signal kernel over a batch of signals on OpenMP threads.
#pragma once

#include <omp.h>

#include <algorithm>

#include "optkern/common.hpp"
#include "optkern/threads.hpp"

namespace optkern::tv_detail {

// Calls body(state, b) for b in [0, batch), where each thread makes its own `state` (its
// scratch memory) once with make_state(). Signals are handed out in chunks of about 16k
// samples so that short signals do not pay a scheduling step each. body must not throw.
template <class MakeState, class Body>
void for_each_signal(index_t batch, index_t n, int num_threads, MakeState make_state, Body body) {
  if (batch <= 0) return;
  const int threads =
      int(std::min<index_t>(num_threads > 0 ? num_threads : optkern::num_threads(), batch));
  if (threads == 1) {  // no parallel region: it costs microseconds, a short signal less
    auto state = make_state();
    for (index_t b = 0; b < batch; ++b) body(state, b);
    return;
  }
  const int chunk = int(std::clamp<index_t>(16384 / std::max<index_t>(n, 1), 1, 256));
#pragma omp parallel num_threads(threads)
  {
    auto state = make_state();
#pragma omp for schedule(dynamic, chunk)
    for (index_t b = 0; b < batch; ++b) body(state, b);
  }
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
