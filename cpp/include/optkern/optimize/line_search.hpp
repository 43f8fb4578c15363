// Line searches along a descent direction p from x, on phi(a) = f(x + a p):
//
// * StrongWolfeSearch: J. J. More and D. J. Thuente, "Line search algorithms with guaranteed
//   sufficient decrease", ACM TOMS 20(3), 1994 -- the search of MINPACK-2 that SciPy's
//   L-BFGS-B uses. It returns a step satisfying the strong Wolfe conditions
//       phi(a) <= phi(0) + c1 a phi'(0),     |phi'(a)| <= c2 |phi'(0)|
//   (Nocedal & Wright eq. 3.7), found by bracketing and safeguarded cubic interpolation.
// * ArmijoBacktracking: thesis Algorithm 1, a <- tau a until sufficient decrease holds.
//
// Both are reverse-communication state machines: the caller evaluates phi and phi' at step()
// and passes them to next(). A NaN or Inf value at a trial step is not an error: the step is
// shrunk towards the best step found so far, as if the objective were +Inf there.
#pragma once

#include <limits>

#include "optkern/optimize/types.hpp"

namespace optkern::optimize {
OPTKERN_OPTIMIZE_ISA_BEGIN

enum class SearchState : int {
  kEvaluate,   // evaluate phi and phi' at step() and call next()
  kConverged,  // step() satisfies the conditions
  kFailed,     // no acceptable step: too many evaluations, or rounding errors prevent progress
};

template <class T>
class StrongWolfeSearch {
 public:
  // c1 < c2 in (0, 1); xtol is the relative width below which the bracket cannot shrink
  // usefully (MINPACK-2 and SciPy use 0.1).
  OPTKERN_HD StrongWolfeSearch(T c1, T c2, int max_evals, T step_max = T(1e10), T xtol = T(0.1))
      : c1_(c1), c2_(c2), xtol_(xtol), step_max_(step_max), max_evals_(max_evals) {}

  // Starts a search from phi(0) = f0 with slope phi'(0) = g0 < 0 and a first trial step.
  OPTKERN_HD SearchState start(T f0, T g0, T first_step) {
    evals_ = 0;
    if (!(g0 < T(0)) || !(first_step > T(0))) return SearchState::kFailed;
    bracketed_ = false;
    stage_one_ = true;
    f0_ = f0;
    g0_ = g0;
    slope_test_ = c1_ * g0;
    width_ = step_max_;
    width_before_ = T(2) * step_max_;
    lo_ = Point{T(0), f0, g0};
    hi_ = lo_;
    step_ = min_value(first_step, step_max_);
    range_lo_ = T(0);
    range_hi_ = step_ + extrapolate_max() * step_;
    nonfinite_at_ = T(0);
    best_ = lowest_ = last_ = T(0);
    pinned_ = false;
    best_f_ = lowest_f_ = f0;
    return SearchState::kEvaluate;
  }

  OPTKERN_HD T step() const { return step_; }
  OPTKERN_HD int evaluations() const { return evals_; }

  // The largest step of the next searches. `from_bound`: it is where x reaches a bound
  // (L-BFGS-B), so a search that ends there has not found f unbounded below.
  OPTKERN_HD void set_step_max(T step_max, bool from_bound = false) {
    step_max_ = step_max;
    bound_cap_ = from_bound;
  }
  OPTKERN_HD T step_max() const { return step_max_; }

  // After kFailed: the search ended at the largest step with f still decreasing as fast as
  // c1 asks (and that step is no bound): f is probably unbounded below along p.
  OPTKERN_HD bool diverging() const { return pinned_ && !bound_cap_; }

  // After kFailed, what the search saw (0 when there is no such step):
  // * best_step(): the evaluated step of lowest phi among those with sufficient decrease
  //   (MINPACK-2's dcsrch ends a search that cannot finish at its best point stx);
  // * lowest_step(): the evaluated step of lowest phi below phi(0), with or without
  //   sufficient decrease;
  // * last_step(): the step evaluated by the last call of next() (whose point the caller
  //   still holds).
  OPTKERN_HD T best_step() const { return best_; }
  OPTKERN_HD T lowest_step() const { return lowest_; }
  OPTKERN_HD T last_step() const { return last_; }

  // phi and phi' at step(); returns what to do next.
  OPTKERN_HD SearchState next(T f, T g) {
    ++evals_;
    last_ = step_;
    if (!is_finite(f) || !is_finite(g)) return shrink_after_nonfinite();

    const T sufficient = f0_ + step_ * slope_test_;
    if (f < lowest_f_) {
      lowest_f_ = f;
      lowest_ = step_;
    }
    if (f <= sufficient && (best_ == T(0) || f < best_f_)) {
      best_f_ = f;
      best_ = step_;
    }
    if (f <= sufficient && abs_value(g) <= -c2_ * g0_) return SearchState::kConverged;
    if (evals_ >= max_evals_) return SearchState::kFailed;
    // The bracket has collapsed (MINPACK-2's "rounding errors prevent progress" and "xtol
    // test satisfied"), or the step is pinned at its largest value with f still decreasing
    // (f is then probably unbounded below along p).
    if (bracketed_ && (step_ <= range_lo_ || step_ >= range_hi_)) return SearchState::kFailed;
    if (bracketed_ && range_hi_ - range_lo_ <= xtol_ * range_hi_) return SearchState::kFailed;
    if (step_ >= step_max_ && f <= sufficient && g <= slope_test_) {
      pinned_ = true;
      return SearchState::kFailed;
    }

    // Stage one ends once a step gives sufficient decrease with phi' >= 0.
    if (stage_one_ && f <= sufficient && g >= T(0)) stage_one_ = false;

    const Point trial{step_, f, g};
    if (stage_one_ && f <= lo_.f && f > sufficient) {
      // Lower than the best point but without sufficient decrease: choose the next step on
      // the auxiliary function psi(a) = phi(a) - phi(0) - c1 a phi'(0) (More-Thuente sec. 2).
      Point lo = shifted(lo_), hi = shifted(hi_);
      step_ = safeguarded_step(lo, hi, shifted(trial));
      lo_ = unshifted(lo);
      hi_ = unshifted(hi);
    } else {
      step_ = safeguarded_step(lo_, hi_, trial);
    }

    if (bracketed_) {
      // Bisect when the bracket has not shrunk by a third over two steps.
      const T width = abs_value(hi_.a - lo_.a);
      if (width >= T(0.66) * width_before_) step_ = lo_.a + T(0.5) * (hi_.a - lo_.a);
      width_before_ = width_;
      width_ = width;
      range_lo_ = min_value(lo_.a, hi_.a);
      range_hi_ = max_value(lo_.a, hi_.a);
    } else {
      range_lo_ = step_ + extrapolate_min() * (step_ - lo_.a);
      range_hi_ = step_ + extrapolate_max() * (step_ - lo_.a);
    }
    step_ = min_value(max_value(step_, T(0)), step_max_);
    if (nonfinite_at_ > T(0) && step_ >= nonfinite_at_) {
      step_ = lo_.a + T(0.5) * (nonfinite_at_ - lo_.a);
    }
    // The interpolation fell on an end of a bracket that is still wide: cancellation in the
    // cubic when phi jumps by many orders of magnitude across it (a singularity such as two
    // atoms on top of each other). Bisect instead of giving up.
    if (bracketed_ && (step_ <= range_lo_ || step_ >= range_hi_) &&
        range_hi_ - range_lo_ > xtol_ * range_hi_) {
      step_ = range_lo_ + T(0.5) * (range_hi_ - range_lo_);
    }
    // No progress is possible inside the bracket: try the best step once more.
    if (bracketed_ && (step_ <= range_lo_ || step_ >= range_hi_ ||
                       range_hi_ - range_lo_ <= xtol_ * range_hi_)) {
      step_ = lo_.a;
    }
    if (!(step_ > T(0))) return SearchState::kFailed;
    return SearchState::kEvaluate;
  }

 private:
  // A step a with phi(a) and phi'(a).
  struct Point {
    T a, f, g;
  };

  // How far an extrapolating step may go, as multiples of the last step (MINPACK-2's xtrapl
  // and xtrapu). Functions rather than constants: usable in device code as they are.
  OPTKERN_HD static constexpr T extrapolate_min() { return T(1.1); }
  OPTKERN_HD static constexpr T extrapolate_max() { return T(4); }

  OPTKERN_HD Point shifted(Point p) const {
    return Point{p.a, p.f - p.a * slope_test_, p.g - slope_test_};
  }
  OPTKERN_HD Point unshifted(Point p) const {
    return Point{p.a, p.f + p.a * slope_test_, p.g + slope_test_};
  }

  OPTKERN_HD SearchState shrink_after_nonfinite() {
    if (nonfinite_at_ == T(0) || step_ < nonfinite_at_) nonfinite_at_ = step_;
    if (evals_ >= max_evals_) return SearchState::kFailed;
    step_ = lo_.a + T(0.5) * (step_ - lo_.a);
    if (!(step_ > lo_.a)) return SearchState::kFailed;
    if (bracketed_ && hi_.a > step_) {
      range_hi_ = min_value(range_hi_, nonfinite_at_);
    }
    return SearchState::kEvaluate;
  }

  // The minimiser of the cubic interpolating (u.a, u.f, u.g) and (v.a, v.f, v.g); its
  // square root is clamped at 0 as in MINPACK-2's third case.
  OPTKERN_HD static T cubic_minimiser(const Point& u, const Point& v) {
    const T theta = T(3) * (u.f - v.f) / (v.a - u.a) + u.g + v.g;
    const T s = max_value(max_value(abs_value(theta), abs_value(u.g)), abs_value(v.g));
    if (s == T(0)) return u.a + T(0.5) * (v.a - u.a);
    T gamma = s * square_root(max_value(T(0), (theta / s) * (theta / s) - (u.g / s) * (v.g / s)));
    if (v.a < u.a) gamma = -gamma;
    const T p = (gamma - u.g) + theta;
    const T q = ((gamma - u.g) + gamma) + v.g;
    return u.a + (p / q) * (v.a - u.a);
  }

  // More-Thuente's safeguarded step (their four cases). lo is the best point so far, hi the
  // other end of the bracket (if bracketed_), t the new trial. Updates lo, hi and
  // bracketed_, and returns the next trial step.
  OPTKERN_HD T safeguarded_step(Point& lo, Point& hi, const Point& t) {
    const bool opposite_slopes = (t.g < T(0)) != (lo.g < T(0)) && t.g != T(0);
    T next;
    if (t.f > lo.f) {
      // 1: higher value, the minimum is bracketed. Take the cubic step if it is closer to
      // lo than the quadratic one, else their midpoint.
      const T cubic = cubic_minimiser(lo, t);
      const T quad = lo.a + lo.g / ((lo.f - t.f) / (t.a - lo.a) + lo.g) / T(2) * (t.a - lo.a);
      next = abs_value(cubic - lo.a) < abs_value(quad - lo.a) ? cubic
                                                                 : cubic + (quad - cubic) / T(2);
      bracketed_ = true;
    } else if (opposite_slopes) {
      // 2: lower value, slopes of opposite signs: bracketed. The step farther from t.
      const T cubic = cubic_minimiser(t, lo);
      const T secant = t.a + t.g / (t.g - lo.g) * (lo.a - t.a);
      next = abs_value(cubic - t.a) > abs_value(secant - t.a) ? cubic : secant;
      bracketed_ = true;
    } else if (abs_value(t.g) < abs_value(lo.g)) {
      // 3: lower value, same slope sign, the slope decreases in magnitude. The cubic may
      // have no minimiser in the right direction: then extrapolate to the range's end.
      const T theta = T(3) * (lo.f - t.f) / (t.a - lo.a) + lo.g + t.g;
      const T s = max_value(max_value(abs_value(theta), abs_value(lo.g)), abs_value(t.g));
      T gamma = s == T(0) ? T(0)
                          : s * square_root(max_value(
                                    T(0), (theta / s) * (theta / s) - (lo.g / s) * (t.g / s)));
      if (t.a > lo.a) gamma = -gamma;
      const T p = (gamma - t.g) + theta;
      const T q = (gamma + (lo.g - t.g)) + gamma;
      const T r = q != T(0) ? p / q : T(0);
      T cubic;
      if (r < T(0) && gamma != T(0)) {
        cubic = t.a + r * (lo.a - t.a);
      } else {
        cubic = t.a > lo.a ? range_hi_ : range_lo_;
      }
      const T secant = t.a + t.g / (t.g - lo.g) * (lo.a - t.a);
      if (bracketed_) {
        next = abs_value(cubic - t.a) < abs_value(secant - t.a) ? cubic : secant;
        const T limit = t.a + T(0.66) * (hi.a - t.a);
        next = t.a > lo.a ? min_value(limit, next) : max_value(limit, next);
      } else {
        next = abs_value(cubic - t.a) > abs_value(secant - t.a) ? cubic : secant;
        next = max_value(range_lo_, min_value(range_hi_, next));
      }
    } else {
      // 4: lower value, same slope sign, the slope does not decrease. Interpolate towards
      // the other end of the bracket, or extrapolate to the range's end.
      if (bracketed_) {
        next = cubic_minimiser(t, hi);
      } else {
        next = t.a > lo.a ? range_hi_ : range_lo_;
      }
    }

    // Keep the bracket: lo stays the best point, hi the other end.
    if (t.f > lo.f) {
      hi = t;
    } else {
      if (opposite_slopes) hi = lo;
      lo = t;
    }
    if (!is_finite(next)) {  // degenerate interpolation data: fall back to bisection
      next = bracketed_ ? lo.a + T(0.5) * (hi.a - lo.a) : range_hi_;
    }
    return next;
  }

  T c1_, c2_, xtol_, step_max_;
  int max_evals_;
  int evals_ = 0;
  bool bracketed_ = false;
  bool stage_one_ = true;
  T f0_ = T(0), g0_ = T(0), slope_test_ = T(0);
  T width_ = T(0), width_before_ = T(0);
  Point lo_{}, hi_{};
  T step_ = T(0);
  T range_lo_ = T(0), range_hi_ = T(0);  // where the next trial step may go
  T nonfinite_at_ = T(0);                // smallest step where phi was NaN or Inf (0: none)
  T best_ = T(0), best_f_ = T(0);        // best step with sufficient decrease (0: none)
  T lowest_ = T(0), lowest_f_ = T(0);    // step of lowest phi below phi(0) (0: none)
  T last_ = T(0);                        // the step the last next() call was given
  bool pinned_ = false;                  // failed at step_max_ with f decreasing
  bool bound_cap_ = false;               // step_max_ is where x reaches a bound
};

// The largest step of a search along p: 1e10, or 1e10 / ||p|| when p is short, so that x
// may move by 1e10 whatever the scale of p (a first trial 1 / ||p|| is never cut short,
// however small the gradient: f = 1e-50 x^2 still moves x by 1; and a search that reaches
// the cap has moved x far enough to call f unbounded below).
template <class T>
OPTKERN_HD T unit_step_max(T p_norm) {
  const T cap = T(1e10);
  if (!(p_norm < T(1))) return cap;
  const T big = std::numeric_limits<T>::max() / T(16);
  return p_norm > cap / big ? cap / p_norm : big;
}

// Thesis Algorithm 1: a <- tau a until phi(a) <= phi(0) + c1 a phi'(0). A NaN or Inf value
// or slope counts as "not yet". Fails once the step is below min_step (the caller's
// "x + a p == x" threshold).
template <class T>
class ArmijoBacktracking {
 public:
  OPTKERN_HD ArmijoBacktracking(T c1, T tau) : c1_(c1), tau_(tau) {}

  OPTKERN_HD SearchState start(T f0, T g0, T first_step, T min_step) {
    evals_ = 0;
    f0_ = f0;
    g0_ = g0;
    step_ = first_step;
    min_step_ = min_step;
    if (!(g0 < T(0)) || !(first_step > T(0))) return SearchState::kFailed;
    return SearchState::kEvaluate;
  }

  OPTKERN_HD T step() const { return step_; }
  OPTKERN_HD int evaluations() const { return evals_; }

  OPTKERN_HD SearchState next(T f, T g) {
    ++evals_;
    if (is_finite(f) && is_finite(g) && f <= f0_ + c1_ * step_ * g0_) {
      return SearchState::kConverged;
    }
    step_ *= tau_;
    return step_ < min_step_ ? SearchState::kFailed : SearchState::kEvaluate;
  }

 private:
  T c1_, tau_;
  T f0_ = T(0), g0_ = T(0), step_ = T(0), min_step_ = T(0);
  int evals_ = 0;
};

OPTKERN_OPTIMIZE_ISA_END
}  // namespace optkern::optimize
