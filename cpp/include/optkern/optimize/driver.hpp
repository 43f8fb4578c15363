// What the host drivers share: the result type, a view of the current iterate for
// callbacks, a non-owning callable reference, and the loop that runs a reverse-communication
// machine (lbfgs_machine.hpp) against an objective.
#pragma once

#include <Eigen/Core>
#include <utility>

#include "optkern/common.hpp"
#include "optkern/optimize/descent_core.hpp"
#include "optkern/optimize/types.hpp"

namespace optkern::optimize {
OPTKERN_OPTIMIZE_ISA_BEGIN

template <class T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;

// The outcome of a run (the minimiser itself is written into the caller's x).
template <class T>
struct Result {
  Status status = Status::kRunning;
  T fun = T(0);      // f at the returned x
  Vector<T> grad;    // the gradient at the returned x
  long nit = 0;      // iterations
  long nfev = 0;     // objective evaluations (f and g together)
  long nhev = 0;     // Hessian evaluations
  bool success() const { return converged(status); }
  const char* message() const { return status_message(status); }
};

OPTKERN_OPTIMIZE_ISA_END

// No callback: never stops the run.
struct NoCallback {
  template <class T>
  bool operator()(const IterateView<T>&) const {
    return false;
  }
};

OPTKERN_OPTIMIZE_ISA_BEGIN
namespace detail {

// Runs `machine` to the end. evaluate() computes f and g at the trial point and returns f;
// hessian() evaluates the Hessian where the machine asks; callback(view) returns true to
// stop. Exceptions thrown by any of them propagate unchanged (the machine is left as is).
template <class Machine, class Evaluate, class Hessian, class View, class Callback>
Status run_machine(Machine& machine, Evaluate&& evaluate, Hessian&& hessian, View&& view,
                   Callback&& callback) {
  Request r = machine.start();
  for (;;) {
    switch (r) {
      case Request::kEvaluate:
        r = machine.tell(evaluate());
        break;
      case Request::kHessian:
        hessian();
        r = machine.tell_hessian();
        break;
      case Request::kIterate:
        r = machine.proceed(callback(view()));
        break;
      case Request::kDone:
        return machine.status();
    }
  }
}

struct NoHessian {
  void operator()() const {}
  template <class Machine>
  void operator()(Machine&) const {}
};

// The view of the machine's current iterate that callbacks receive.
template <class T, class Machine>
auto iterate_view(const Machine& machine, const T* x, const T* g, index_t n) {
  return [&machine, x, g, n] {
    const Counters& c = machine.counters();
    return IterateView<T>{x, g, n, machine.f(), c.nit, c.nfev, c.nhev};
  };
}

// The result of a finished machine whose gradient is at g.
template <class T, class Machine>
Result<T> collect(const Machine& machine, Status status, const T* g, index_t n) {
  Result<T> r;
  r.status = status;
  r.fun = machine.f();
  r.grad = Eigen::Map<const Vector<T>>(g, n);
  r.nit = machine.counters().nit;
  r.nfev = machine.counters().nfev;
  r.nhev = machine.counters().nhev;
  return r;
}

template <class T>
void require_finite(const T* x, index_t n, const char* name) {
  for (index_t i = 0; i < n; ++i) {
    require(is_finite(x[i]), name, "must be finite (no NaN or Inf)");
  }
}

// The host run of a machine on DescentBuffers (gradient descent, BFGS, L-BFGS-B): its four
// work vectors, the machine that make_machine(buffers) builds on them, the loop, the result.
// Those entry points differ only in their checks and their machine, so the rest is here once.
// hessian(machine) fills the machine's Hessian where it asks (NoHessian{}: never asked).
template <class T, class MakeMachine, class Objective, class Hessian, class Callback>
Result<T> run_descent(T* x, index_t n, MakeMachine&& make_machine, Objective& fg, Hessian&& hessian,
                      Callback& callback) {
  Vector<T> xt(n), gt(n), g(n), p(n);
  auto machine = make_machine(DescentBuffers<T>{x, g.data(), xt.data(), gt.data(), p.data()});
  const Status status = run_machine(
      machine, [&] { return T(fg(std::as_const(xt), gt)); }, [&] { hessian(machine); },
      iterate_view(machine, x, g.data(), n), callback);
  return collect(machine, status, g.data(), n);
}

// What every entry point requires of the x it starts from.
template <class T>
void require_start(const T* x, index_t n) {
  require(n >= 1, "x", "must have at least one element");
  require_finite(x, n, "x");
}

template <class T>
void check_stop_options(const StopOptions<T>& o) {
  require(o.gtol >= T(0), "gtol", "must be >= 0");
  require(o.ftol >= T(0), "ftol", "must be >= 0");
  require(o.max_iter >= 0, "max_iter", "must be >= 0");
  require(o.max_fev >= 1, "max_fev", "must be >= 1");
}

template <class T>
void check_wolfe_options(const WolfeOptions<T>& o) {
  require(o.c1 > T(0) && o.c1 < o.c2, "c1", "must satisfy 0 < c1 < c2");
  require(o.c2 < T(1), "c2", "must satisfy c1 < c2 < 1");
  require(o.max_ls >= 1, "max_ls", "must be >= 1");
}

template <class T>
void check_backtracking(T c1, T tau, T alpha0) {
  require(c1 > T(0) && c1 < T(1), "c1", "must be in (0, 1)");
  require(tau > T(0) && tau < T(1), "tau", "must be in (0, 1)");
  require(alpha0 > T(0) && is_finite(alpha0), "alpha0", "must be a finite number > 0");
}

}  // namespace detail
OPTKERN_OPTIMIZE_ISA_END
}  // namespace optkern::optimize
