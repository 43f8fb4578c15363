// Gradient descent with Armijo backtracking (thesis eq. 5 and Algorithm 1) as a
// reverse-communication state machine over caller-owned buffers (protocol:
// descent_core.hpp). Every iteration starts its search at alpha0 (thesis Figure 2: 0.1).
#pragma once

#include "optkern/optimize/descent_core.hpp"
#include "optkern/optimize/line_search.hpp"
#include "optkern/optimize/types.hpp"

namespace optkern::optimize {
OPTKERN_OPTIMIZE_ISA_BEGIN

template <class T, class L = Contiguous>
class GradientDescentMachine {
 public:
  OPTKERN_HD GradientDescentMachine(index_t n, const GradientDescentOptions<T>& options,
                                    const DescentBuffers<T>& b, L layout = L{})
      : core_(n, options, b, layout), alpha0_(options.alpha0), search_(options.c1, options.tau) {}

  OPTKERN_HD Request start() { return core_.start(); }

  OPTKERN_HD Request tell(T f_trial) {
    if (!core_.started()) return core_.take_start(f_trial) ? begin_search() : Request::kDone;
    // the search needs f only; the gradient must be finite to be the next iterate's
    const VectorNorms<T> gt = norms(core_.n(), core_.buffers().gt, core_.layout());
    return core_.search_step(
        search_, f_trial, gt.max_abs, [&] { return core_.move_to_trial(f_trial, gt); },
        [&] { return core_.finish(Status::kLineSearchFailed); });
  }

  OPTKERN_HD Request tell_hessian() { return core_.finish(Status::kRunning); }  // unused

  OPTKERN_HD Request proceed(bool stop = false) {
    return core_.stops(stop) ? Request::kDone : begin_search();
  }

  OPTKERN_HD T f() const { return core_.f(); }
  OPTKERN_HD T gradient_norm() const { return core_.gradient_norm(); }
  OPTKERN_HD Status status() const { return core_.status(); }
  OPTKERN_HD const Counters& counters() const { return core_.counters(); }

 private:
  // Along p = -g: the slope is -||g||^2.
  OPTKERN_HD Request begin_search() {
    const auto& b = core_.buffers();
    scale_copy(core_.n(), T(-1), b.g, b.p, core_.layout());
    const T min_step = core_.smallest_step(core_.gradient_norm());
    const T slope = -core_.gradient_squared_norm();
    if (search_.start(core_.f(), slope, alpha0_, min_step) != SearchState::kEvaluate) {
      return core_.finish(Status::kLineSearchFailed);
    }
    return core_.trial(search_.step());
  }

  DescentCore<T, L> core_;
  T alpha0_;
  ArmijoBacktracking<T> search_;
};

OPTKERN_OPTIMIZE_ISA_END
}  // namespace optkern::optimize
