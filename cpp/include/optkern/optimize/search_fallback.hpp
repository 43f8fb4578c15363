// What a quasi-Newton machine does when its strong Wolfe search cannot finish (too many
// evaluations, a bracket collapsed by rounding, a step pinned at its largest value), so that
// the run never returns a point worse than one it has evaluated:
//
//  1. The search saw a step with sufficient decrease: move to the best such step (the lowest
//     f among them) and go on, as MINPACK-2's dcsrch ends such a search at its best point
//     (but stop there with kLineSearchFailed when the search ran to its largest step with f
//     still falling: f is then probably unbounded below).
//     If that step was the last one evaluated, its f and g are at hand; otherwise it is
//     evaluated again (one more evaluation, no stored copy of the point).
//  2. Otherwise, if the machine has curvature information, it drops it and searches again
//     along -g (`restart`).
//  3. Otherwise, if some trial point was below f, move to the lowest one and stop with
//     kLineSearchFailed; if none was, stop there.
#pragma once

#include "optkern/optimize/descent_core.hpp"
#include "optkern/optimize/line_search.hpp"
#include "optkern/optimize/types.hpp"

namespace optkern::optimize {
OPTKERN_OPTIMIZE_ISA_BEGIN

template <class T>
class SearchFallback {
 public:
  // True while the machine waits for the value at a point being evaluated again.
  OPTKERN_HD bool refetching() const { return mode_ != Mode::kNone; }
  // True after a move of step 3: the next proceed() ends the run.
  OPTKERN_HD bool stop_pending() const { return stop_pending_; }

  // A quasi-Newton machine's tell() once the run has started: the value of a point being
  // evaluated again (refetched), or the next step of the strong Wolfe search, whose failure
  // comes to failed(). BFGS, L-BFGS and L-BFGS-B run exactly this; they differ only in
  // accept() (their update) and restart() (what they forget), so it lives here once.
  template <class Core, class Accept, class Restart>
  OPTKERN_HD Request tell(Core& core, StrongWolfeSearch<T>& search, bool has_memory, T f_trial,
                          Accept&& accept, Restart&& restart) {
    if (refetching()) return refetched(core, f_trial, accept);
    return core.search_step(search, f_trial, core.trial_slope(), accept, [&] {
      return failed(core, search, has_memory, f_trial, accept, restart);
    });
  }

  // The same machines' proceed() (after kIterate): end the run after a move of step 3, else
  // stop on the core's rules or the callback, else begin() the next search.
  template <class Core, class Begin>
  OPTKERN_HD Request proceed(Core& core, bool callback_stop, Begin&& begin) {
    if (stop_pending_) return stop(core, callback_stop);
    return core.stops(callback_stop) ? Request::kDone : begin();
  }

  // The search failed after evaluating f_trial at xt. accept() moves to xt (the machine's
  // usual acceptance), restart() searches again along -g.
  template <class Core, class Accept, class Restart>
  OPTKERN_HD Request failed(Core& core, const StrongWolfeSearch<T>& search, bool has_memory,
                            T f_trial, Accept&& accept, Restart&& restart) {
    const T best = search.best_step();
    if (best > T(0)) {
      // A search that ran to its largest step with f still falling: move there and stop
      // (f is probably unbounded below; going on would only repeat this).
      const Mode mode = search.diverging() ? Mode::kStop : Mode::kContinue;
      return take(core, search, best, mode, f_trial, accept);
    }
    if (has_memory) return restart();
    const T lowest = search.lowest_step();
    if (lowest > T(0)) return take(core, search, lowest, Mode::kStop, f_trial, accept);
    return core.finish(Status::kLineSearchFailed);
  }

  // The value at the point evaluated again (f and g at xt, gt).
  template <class Core, class Accept>
  OPTKERN_HD Request refetched(Core& core, T f_trial, Accept&& accept) {
    ++core.counters().nfev;
    const Mode mode = mode_;
    mode_ = Mode::kNone;
    // An objective that does not give the same value twice: stop at the last iterate.
    if (!is_finite(f_trial) || !(f_trial < core.f())) return core.finish(Status::kLineSearchFailed);
    stop_pending_ = mode == Mode::kStop;
    return accept();
  }

  // After the iterate of step 3: the run ends (converged if a stopping rule holds there).
  template <class Core>
  OPTKERN_HD Request stop(Core& core, bool callback_stop) {
    stop_pending_ = false;
    const Status reason = core.stop_reason(callback_stop);
    return core.finish(reason == Status::kRunning ? Status::kLineSearchFailed : reason);
  }

 private:
  enum class Mode : int { kNone, kContinue, kStop };

  template <class Core, class Accept>
  OPTKERN_HD Request take(Core& core, const StrongWolfeSearch<T>& search, T step, Mode mode,
                          T f_trial, Accept& accept) {
    if (step == search.last_step() && is_finite(f_trial)) {  // xt, gt hold that point
      stop_pending_ = mode == Mode::kStop;
      return accept();
    }
    mode_ = mode;
    return core.trial(step);
  }

  Mode mode_ = Mode::kNone;
  bool stop_pending_ = false;
};

OPTKERN_OPTIMIZE_ISA_END
}  // namespace optkern::optimize
