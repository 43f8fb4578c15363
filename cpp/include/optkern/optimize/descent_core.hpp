// The bookkeeping every descent method shares: the iterate and trial point, the counters,
// the stopping rules and the reverse-communication protocol (types.hpp, Request).
//
// Protocol of every machine built on it:
//   Request r = machine.start();                   // x holds x0
//   kEvaluate -> f = f(xt), gt = grad f(xt);        r = machine.tell(f)
//   kHessian  -> the Hessian at x into the buffer;  r = machine.tell_hessian()
//   kIterate  -> x, f, g are a new iterate;         r = machine.proceed(stop)
//   kDone     -> machine.status() says why.
#pragma once

#include <limits>

#include "optkern/optimize/line_search.hpp"
#include "optkern/optimize/types.hpp"

namespace optkern::optimize {
OPTKERN_OPTIMIZE_ISA_BEGIN

// x, g: the iterate; xt, gt: the trial point; p: the direction. n elements each, in the
// machine's layout.
template <class T>
struct DescentBuffers {
  T *x, *g, *xt, *gt, *p;
};

OPTKERN_HD inline index_t descent_buffer_size(index_t n) { return 5 * n; }

// Carves DescentBuffers out of a block of descent_buffer_size(n) elements `stride` apart.
template <class T>
OPTKERN_HD DescentBuffers<T> descent_buffers(T* block, index_t n, index_t stride = 1) {
  const index_t vec = n * stride;
  return DescentBuffers<T>{block, block + vec, block + 2 * vec, block + 3 * vec, block + 4 * vec};
}

template <class T, class L = Contiguous>
class DescentCore {
 public:
  OPTKERN_HD DescentCore(index_t n, const StopOptions<T>& stop, const DescentBuffers<T>& b,
                         L layout)
      : n_(n), stop_(stop), b_(b), layout_(layout) {}

  // Asks for f and g at x0.
  OPTKERN_HD Request start() {
    copy(n_, b_.x, b_.xt, layout_);
    started_ = false;
    return evaluation();
  }

  // True once the value at x0 has been taken.
  OPTKERN_HD bool started() const { return started_; }

  // Takes f and g at x0 (in gt). Returns false when the run is over: NaN or Inf at x0, or
  // x0 already stationary.
  OPTKERN_HD bool take_start(T f0) {
    started_ = true;
    ++counters_.nfev;
    copy(n_, b_.gt, b_.g, layout_);
    f_ = f0;
    gradient_norms(norms(n_, b_.g, layout_));
    x_max_ = norm_inf(n_, b_.x, layout_);
    if (!is_finite(f_) || !is_finite(gnorm_)) {
      status_ = Status::kNonFiniteStart;
      return false;
    }
    if (gnorm_ <= stop_.gtol) {
      status_ = Status::kGradientConverged;
      return false;
    }
    if (stop_.max_iter <= 0) {
      status_ = Status::kMaxIterations;
      return false;
    }
    return true;
  }

  OPTKERN_HD Request evaluation() {
    if (counters_.nfev >= stop_.max_fev) return finish(Status::kMaxEvaluations);
    return Request::kEvaluate;
  }

  OPTKERN_HD Request finish(Status s) {
    status_ = s;
    return Request::kDone;
  }

  // xt = x + step p, then ask for its value.
  OPTKERN_HD Request trial(T step) {
    add_scaled(n_, b_.x, step, b_.p, b_.xt, layout_);
    return evaluation();
  }

  // The trial point became the iterate (the caller has copied xt, gt into x, g).
  OPTKERN_HD Request moved(T f_trial) {
    gradient_norms(norms(n_, b_.g, layout_));
    return step_done(f_trial);
  }

  // The same, where the caller has the norms of the new g already (one pass fewer).
  OPTKERN_HD Request moved(T f_trial, const VectorNorms<T>& g_norms) {
    gradient_norms(g_norms);
    return step_done(f_trial);
  }

  // Copies the trial point into the iterate; `gt_norms` are the norms of gt.
  OPTKERN_HD Request move_to_trial(T f_trial, const VectorNorms<T>& gt_norms) {
    const index_t s = layout_.stride();
    const T* xt = b_.xt;
    const T* gt = b_.gt;
    T* x = b_.x;
    T* g = b_.g;
    T x_max = T(0);
    OPTKERN_SIMD_MAX(x_max)
    for (index_t i = 0; i < n_; ++i) {
      x[i * s] = xt[i * s];
      g[i * s] = gt[i * s];
      x_max = max_value(x_max, abs_value(xt[i * s]));
    }
    x_max_ = x_max;
    gradient_norms(gt_norms);
    return step_done(f_trial);
  }

  // The smallest step worth trying along a direction whose largest element is d_max: below
  // it x + a d rounds to x (max |x| as of the last iterate taken by move_to_trial).
  OPTKERN_HD T smallest_step(T d_max) const {
    const T x_max = max_value(x_max_, std::numeric_limits<T>::min());
    return std::numeric_limits<T>::epsilon() * x_max / d_max;
  }

  // One step of a line search with the value and slope at the trial point: on kConverged
  // accept(), on kEvaluate the next trial point, on kFailed failed().
  template <class Search, class Accept, class Failed>
  OPTKERN_HD Request search_step(Search& search, T f_trial, T slope, Accept&& accept,
                                 Failed&& failed) {
    ++counters_.nfev;
    switch (search.next(f_trial, slope)) {
      case SearchState::kConverged:
        return accept();
      case SearchState::kEvaluate:
        return trial(search.step());
      case SearchState::kFailed:
        break;
    }
    return failed();
  }

  // After kIterate: true (and the run is over) when a stopping rule holds.
  OPTKERN_HD bool stops(bool callback_stop) {
    const Status reason = stop_reason(callback_stop);
    if (reason == Status::kRunning) return false;
    status_ = reason;
    return true;
  }

  // After kIterate: whether to stop, and why; kRunning to go on.
  OPTKERN_HD Status stop_reason(bool callback_stop) const {
    if (callback_stop) return Status::kCallbackStop;
    if (gnorm_ <= stop_.gtol) return Status::kGradientConverged;
    if (small_decrease(f_previous_, f_, stop_.ftol)) return Status::kFunctionConverged;
    if (counters_.nit >= stop_.max_iter) return Status::kMaxIterations;
    return Status::kRunning;
  }

  // Replaces the gradient norm the stopping rules use (L-BFGS-B: the projected gradient's).
  OPTKERN_HD void set_gradient_norm(T norm) { gnorm_ = norm; }

  // The slope of f along p at the trial point (NaN or Inf if gt is).
  OPTKERN_HD T trial_slope() const { return dot(n_, b_.gt, b_.p, layout_); }

  OPTKERN_HD index_t n() const { return n_; }
  OPTKERN_HD T gradient_squared_norm() const { return g_sq_; }
  OPTKERN_HD const DescentBuffers<T>& buffers() const { return b_; }
  OPTKERN_HD L layout() const { return layout_; }
  OPTKERN_HD T f() const { return f_; }
  OPTKERN_HD T gradient_norm() const { return gnorm_; }
  OPTKERN_HD Status status() const { return status_; }
  OPTKERN_HD const Counters& counters() const { return counters_; }
  OPTKERN_HD Counters& counters() { return counters_; }

 private:
  index_t n_;
  StopOptions<T> stop_;
  DescentBuffers<T> b_;
  L layout_;
  OPTKERN_HD void gradient_norms(const VectorNorms<T>& g) {
    gnorm_ = g.max_abs;
    g_sq_ = g.sum_sq;
  }

  OPTKERN_HD Request step_done(T f_trial) {
    f_previous_ = f_;
    f_ = f_trial;
    ++counters_.nit;
    return Request::kIterate;
  }

  bool started_ = false;
  Status status_ = Status::kRunning;
  Counters counters_{};
  T f_ = T(0), f_previous_ = T(0), gnorm_ = T(0), g_sq_ = T(0), x_max_ = T(0);
};

OPTKERN_OPTIMIZE_ISA_END
}  // namespace optkern::optimize
