// The compiled entry points of minimize.hpp: one Runner drives any method's machine against
// any objective, reusing its buffers from run to run (batch threads keep one each).
#include "optkern/optimize/minimize.hpp"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "common/parallel_items.hpp"
#include "optkern/optimize/bfgs.hpp"
#include "optkern/optimize/gradient_descent.hpp"
#include "optkern/optimize/lbfgs.hpp"
#include "optkern/optimize/lbfgsb.hpp"
#include "optkern/optimize/newton.hpp"
#include "optkern/threads.hpp"

namespace optkern::optimize {

// Each method's options: the shared stopping rules and line-search settings (the parts its
// options type derives from), then its own fields.
template <class T>
template <class Options>
Options Settings<T>::shared_options() const {
  Options o;
  static_cast<StopOptions<T>&>(o) = stop;
  if constexpr (std::is_base_of_v<WolfeOptions<T>, Options>)
    static_cast<WolfeOptions<T>&>(o) = WolfeOptions<T>{c1, c2, max_ls};
  if constexpr (std::is_base_of_v<BacktrackingOptions<T>, Options>)
    static_cast<BacktrackingOptions<T>&>(o) = BacktrackingOptions<T>{c1, tau, alpha0};
  return o;
}

template <class T>
LbfgsOptions<T> Settings<T>::lbfgs() const {
  auto o = shared_options<LbfgsOptions<T>>();
  o.m = m;
  return o;
}

template <class T>
GradientDescentOptions<T> Settings<T>::gradient_descent() const {
  return shared_options<GradientDescentOptions<T>>();
}

template <class T>
NewtonOptions<T> Settings<T>::newton() const {
  auto o = shared_options<NewtonOptions<T>>();
  if (eig_floor > T(0)) o.eig_floor = eig_floor;
  return o;
}

template <class T>
BfgsOptions<T> Settings<T>::bfgs() const {
  auto o = shared_options<BfgsOptions<T>>();
  if (eig_floor > T(0)) o.eig_floor = eig_floor;
  return o;
}

template <class T>
void Settings<T>::check() const {
  require(eig_floor >= T(0) && is_finite(eig_floor), "eig_floor", "must be a finite number > 0");
  switch (method) {
    case Method::kLbfgs:
      return detail::check_lbfgs_options(lbfgs());
    case Method::kGradientDescent:
      return detail::check_gradient_descent_options(gradient_descent());
    case Method::kNewton:
      return detail::check_newton_options(newton());
    case Method::kBfgs:
      return detail::check_bfgs_options(bfgs());
  }
  require(false, "method", "must be lbfgs, bfgs, newton or gd");
}

template <class T>
void Settings<T>::check(index_t rows, index_t n) const {
  check();
  require((lower == nullptr) == (upper == nullptr), "bounds", "need both lower and upper");
  if (lower == nullptr) return;
  require(method == Method::kLbfgs, "bounds", "are supported by method lbfgs (L-BFGS-B) only");
  detail::check_bounds(lower, upper, rows * n);
}

template <class T>
Settings<T> Settings<T>::for_problem(index_t b, index_t n) const {
  Settings<T> s = *this;
  if (lower != nullptr) {
    s.lower = lower + b * n;
    s.upper = upper + b * n;
  }
  return s;
}

namespace {

template <class T>
class Runner {
 public:
  // Runs settings.method from x (n elements, updated in place) and copies the final
  // gradient into g_out. eval(xt, gt) returns f at xt and writes its gradient into gt;
  // hess(x, h, form) writes the Hessian at x into h in the given form. A stop of `interrupt`
  // (polled after every iteration) ends the run as a callback stop would.
  template <class Eval, class Hess>
  Summary<T> run(const Settings<T>& s, T* x, index_t n, Eval&& eval, Hess&& hess,
                 HessianForm newton_form, CallbackRef<T> callback, Interrupt* interrupt,
                 T* g_out) {
    switch (s.method) {
      case Method::kLbfgs: {
        if (s.lower != nullptr) {
          const DescentBuffers<T> b = descent(x, n);
          LbfgsbMachine<T> machine(n, s.lbfgs(), b, s.lower, s.upper);
          Summary<T> out = drive(machine, b, n, eval, [] {}, callback, interrupt, g_out);
          if (s.history != nullptr) {
            out.pairs = machine.copy_pairs(s.history, s.history + index_t(s.m) * n);
          }
          return out;
        }
        block_.resize(std::size_t(lbfgs_buffer_size(n, s.m)));
        LbfgsBuffers<T> b = lbfgs_buffers(block_.data(), n, s.m);
        b.v.x = x;
        LbfgsMachine<T> machine(n, s.lbfgs(), b);
        Summary<T> out = drive(machine, b.v, n, eval, [] {}, callback, interrupt, g_out);
        if (s.history != nullptr) {
          out.pairs = machine.copy_pairs(s.history, s.history + index_t(s.m) * n);
        }
        return out;
      }
      case Method::kGradientDescent: {
        const DescentBuffers<T> b = descent(x, n);
        GradientDescentMachine<T> machine(n, s.gradient_descent(), b);
        return drive(machine, b, n, eval, [] {}, callback, interrupt, g_out);
      }
      case Method::kNewton: {
        const DescentBuffers<T> b = descent(x, n);
        NewtonMachine<T> machine(n, s.newton(), b, newton_form);
        return drive(machine, b, n, eval, [&] { hess(x, machine.hessian(), newton_form); },
                     callback, interrupt, g_out);
      }
      case Method::kBfgs: {
        const DescentBuffers<T> b = descent(x, n);
        BfgsMachine<T> machine(n, s.bfgs(), b, s.bfgs_hessian_start);
        Summary<T> out = drive(machine, b, n, eval,
                               [&] { hess(x, machine.hessian(), HessianForm::kDense); },
                               callback, interrupt, g_out);
        if (s.history != nullptr) {
          const auto inverse = machine.inverse_hessian();
          std::copy(inverse.data(), inverse.data() + n * n, s.history);
        }
        return out;
      }
    }
    return Summary<T>{};
  }

 private:
  DescentBuffers<T> descent(T* x, index_t n) {
    block_.resize(std::size_t(descent_buffer_size(n)));
    DescentBuffers<T> b = descent_buffers(block_.data(), n);
    b.x = x;
    return b;
  }

  template <class Machine, class Eval, class Hess>
  static Summary<T> drive(Machine& machine, const DescentBuffers<T>& b, index_t n, Eval& eval,
                          Hess&& hess, CallbackRef<T> callback, Interrupt* interrupt,
                          T* g_out) {
    const auto view = detail::iterate_view(machine, b.x, b.g, n);
    Summary<T> out;
    out.status = detail::run_machine(
        machine, [&] { return eval(static_cast<const T*>(b.xt), b.gt); }, hess, view,
        [&](const IterateView<T>& v) {
          return optkern::detail::poll(interrupt) || (callback ? callback(v) : false);
        });
    out.fun = machine.f();
    out.counters = machine.counters();
    std::copy(b.g, b.g + n, g_out);
    return out;
  }

  std::vector<T> block_;
};

template <class T>
void check_start(const T* x, index_t n, const Settings<T>& settings) {
  require(n >= 1, "x0", "must have at least one element");
  detail::require_finite(x, n, "x0");
  settings.check(1, n);
}

// Runs a native problem with `runner`; the Hessian comes in the problem's own form.
template <class T>
Summary<T> run_problem(Runner<T>& runner, std::vector<T>& scratch,
                       const problems::ProblemSpec& spec, T* x, index_t n,
                       const Settings<T>& settings, CallbackRef<T> callback,
                       Interrupt* interrupt, T* g_out) {
  return problems::with_problem<T>(spec, n, [&](auto problem) {
    using P = decltype(problem);
    auto eval = [&](const T* xt, T* gt) { return problem.value_grad(n, xt, gt, Contiguous{}); };
    auto hess = [&](const T* at, T* h, HessianForm form) {
      if constexpr (P::kTridiagonal) {
        if (form == HessianForm::kTridiagonal) return problem.hessian_tridiagonal(n, at, h, h + n);
      }
      scratch.resize(std::size_t(2 * n));
      problems::dense_hessian(problem, n, at, h, scratch.data());
    };
    const HessianForm form = P::kTridiagonal ? HessianForm::kTridiagonal : HessianForm::kDense;
    return runner.run(settings, x, n, eval, hess, form, callback, interrupt, g_out);
  });
}

template <class T>
void write_output(const BatchOutput<T>& out, index_t b, const Summary<T>& s) {
  out.f[b] = s.fun;
  out.nit[b] = s.counters.nit;
  out.nfev[b] = s.counters.nfev;
  out.nhev[b] = s.counters.nhev;
  out.status[b] = std::int32_t(s.status);
}

int thread_count(int threads, index_t batch) {
  const int t = threads > 0 ? threads : num_threads();
  return optkern::detail::region_threads(int(std::max<index_t>(1, std::min<index_t>(t, batch))));
}

}  // namespace

template <class T>
Summary<T> minimize(ObjectiveRef<T> fg, HessianRef<T> hess, CallbackRef<T> callback, T* x,
                    T* grad, index_t n, const Settings<T>& settings, Interrupt* interrupt) {
  check_start(x, n, settings);
  require(bool(hess) || settings.method != Method::kNewton, "hess",
          "method newton needs the Hessian");
  require(bool(hess) || !settings.bfgs_hessian_start || settings.method != Method::kBfgs, "hess",
          "a BFGS start from the Hessian needs the Hessian");
  Runner<T> runner;
  const Summary<T> summary = runner.run(
      settings, x, n, fg, [&](const T* at, T* h, HessianForm) { hess(at, h); },
      HessianForm::kDense, callback, interrupt, grad);
  optkern::detail::throw_if_stopped(interrupt);
  return summary;
}

template <class T>
Summary<T> minimize_problem(const problems::ProblemSpec& problem, T* x, T* grad, index_t n,
                            const Settings<T>& settings, CallbackRef<T> callback,
                            Interrupt* interrupt) {
  problems::check_problem(problem, n);
  check_start(x, n, settings);
  Runner<T> runner;
  std::vector<T> scratch;
  const Summary<T> summary =
      run_problem(runner, scratch, problem, x, n, settings, callback, interrupt, grad);
  optkern::detail::throw_if_stopped(interrupt);
  return summary;
}

template <class T>
void minimize_problem_batch(const problems::ProblemSpec& problem, T* x, index_t batch,
                            index_t n, const Settings<T>& settings, const BatchOutput<T>& out,
                            int threads, Interrupt* interrupt) {
  problems::check_problem(problem, n);
  settings.check(batch, n);
  detail::require_finite(x, batch * n, "x0");
  struct Scratch {
    Runner<T> runner;  // buffers reused for every problem of a thread
    std::vector<T> hessian;
  };
  optkern::detail::parallel_items(
      batch, thread_count(threads, batch), 1, interrupt, [] { return Scratch{}; },
      [&](Scratch& s, index_t b) {
        write_output(out, b,
                     run_problem(s.runner, s.hessian, problem, x + b * n, n,
                                 settings.for_problem(b, n), {}, interrupt, out.g + b * n));
      });
  optkern::detail::throw_if_stopped(interrupt);
}

namespace {

// The machines of a lock-step batch, one per problem, each over its own buffers; the trial
// points and their gradients live in the rows of the shared evaluation arrays.
template <class T, class Machine>
class LockStep {
 public:
  template <class MakeMachine>
  LockStep(index_t batch, index_t n, MakeMachine&& make) : n_(n), requests_(std::size_t(batch)) {
    machines_.reserve(std::size_t(batch));
    for (index_t b = 0; b < batch; ++b) machines_.push_back(make(b));
  }

  Machine& operator[](index_t b) { return machines_[std::size_t(b)]; }
  Request& request(index_t b) { return requests_[std::size_t(b)]; }

 private:
  index_t n_;
  std::vector<Machine> machines_;
  std::vector<Request> requests_;
};

// Runs the lock-step loop: every unfinished machine waits at kEvaluate, fg evaluates every
// row, then each machine takes its value and runs on until it needs the next one.
template <class T, class Machine>
void run_lock_step(LockStep<T, Machine>& machines, BatchObjectiveRef<T> fg, T* xt, T* gt,
                   T* ft, const std::vector<DescentBuffers<T>>& buffers, index_t batch,
                   index_t n, int threads, const BatchOutput<T>& out, Interrupt* interrupt) {
  auto settle = [&](index_t b, Request r) {
    while (r == Request::kIterate) r = machines[b].proceed(false);
    machines.request(b) = r;
    if (r == Request::kDone) {  // its row keeps the final x from now on
      std::copy(buffers[std::size_t(b)].x, buffers[std::size_t(b)].x + n, xt + b * n);
    }
  };
  const int team = thread_count(threads, batch);
  optkern::detail::RegionErrors errors;
#pragma omp parallel for num_threads(team) schedule(static)
  for (index_t b = 0; b < batch; ++b) {
    if (errors.failed()) continue;
    errors.guard([&] { settle(b, machines[b].start()); });
  }
  errors.rethrow_if_failed();
  for (;;) {
    bool active = false;
    for (index_t b = 0; b < batch && !active; ++b) active = machines.request(b) != Request::kDone;
    if (!active) break;
    if (optkern::detail::poll(interrupt)) break;
    fg(xt, ft, gt);
#pragma omp parallel for num_threads(team) schedule(static)
    for (index_t b = 0; b < batch; ++b) {
      if (errors.failed() || machines.request(b) == Request::kDone) continue;
      errors.guard([&] { settle(b, machines[b].tell(ft[b])); });
    }
    errors.rethrow_if_failed();
  }
  optkern::detail::throw_if_stopped(interrupt);
  for (index_t b = 0; b < batch; ++b) {
    Summary<T> s;
    s.status = machines[b].status();
    s.fun = machines[b].f();
    s.counters = machines[b].counters();
    write_output(out, b, s);
    std::copy(buffers[std::size_t(b)].g, buffers[std::size_t(b)].g + n, out.g + b * n);
  }
}

}  // namespace

template <class T>
void minimize_batch(BatchObjectiveRef<T> fg, T* x, index_t batch, index_t n,
                    const Settings<T>& settings, const BatchOutput<T>& out, int threads,
                    Interrupt* interrupt) {
  require(n >= 1, "x0", "must have at least one column");
  settings.check(batch, n);
  detail::require_finite(x, batch * n, "x0");
  require(settings.method != Method::kNewton, "method",
          "newton needs Hessians: use minimize_problem_batch with a native problem");
  require(!settings.bfgs_hessian_start, "hess",
          "a BFGS start from the Hessian is not available for batched objectives");
  if (batch == 0) return;
  // Evaluation arrays shared with fg: trial points, values, gradients.
  const auto rows = static_cast<std::size_t>(batch), size = static_cast<std::size_t>(batch * n);
  std::vector<T> xt(size), gt(size), ft(rows);
  std::copy(x, x + batch * n, xt.begin());
  std::vector<DescentBuffers<T>> buffers(rows);
  std::vector<T> blocks;
  auto carve = [&](index_t b, index_t per_problem) {
    DescentBuffers<T> v = descent_buffers(blocks.data() + b * per_problem, n);
    v.x = x + b * n;
    v.xt = xt.data() + b * n;
    v.gt = gt.data() + b * n;
    buffers[std::size_t(b)] = v;
    return v;
  };
  const int team = thread_count(threads, batch);
  // Runs every problem's machine in lock step; make(b) builds problem b's, from a work block
  // of `per` elements per problem.
  auto lock_step = [&](index_t per, auto make) {
    blocks.resize(std::size_t(batch * per));
    LockStep<T, decltype(make(index_t(0)))> machines(batch, n, make);
    return run_lock_step(machines, fg, xt.data(), gt.data(), ft.data(), buffers, batch, n, team,
                         out, interrupt);
  };
  const index_t per = descent_buffer_size(n);
  switch (settings.method) {
    case Method::kLbfgs: {
      const LbfgsOptions<T> o = settings.lbfgs();
      if (settings.lower != nullptr) {  // L-BFGS-B, each problem with its own bounds
        return lock_step(per, [&](index_t b) {
          return LbfgsbMachine<T>(n, o, carve(b, per), settings.lower + b * n,
                                  settings.upper + b * n);
        });
      }
      const index_t with_pairs = lbfgs_buffer_size(n, settings.m);
      return lock_step(with_pairs, [&](index_t b) {
        LbfgsBuffers<T> lb = lbfgs_buffers(blocks.data() + b * with_pairs, n, settings.m);
        lb.v = carve(b, with_pairs);
        return LbfgsMachine<T>(n, o, lb);
      });
    }
    case Method::kGradientDescent: {
      const GradientDescentOptions<T> o = settings.gradient_descent();
      return lock_step(per,
                       [&](index_t b) { return GradientDescentMachine<T>(n, o, carve(b, per)); });
    }
    case Method::kBfgs: {
      const BfgsOptions<T> o = settings.bfgs();
      return lock_step(per, [&](index_t b) { return BfgsMachine<T>(n, o, carve(b, per), false); });
    }
    case Method::kNewton:
      break;
  }
}

#define OPTKERN_INSTANTIATE(T)                                                                 \
  template struct Settings<T>;                                                                 \
  template Summary<T> minimize<T>(ObjectiveRef<T>, HessianRef<T>, CallbackRef<T>, T*, T*,      \
                                  index_t, const Settings<T>&, Interrupt*);                    \
  template Summary<T> minimize_problem<T>(const problems::ProblemSpec&, T*, T*, index_t,       \
                                          const Settings<T>&, CallbackRef<T>, Interrupt*);     \
  template void minimize_problem_batch<T>(const problems::ProblemSpec&, T*, index_t, index_t,  \
                                          const Settings<T>&, const BatchOutput<T>&, int,      \
                                          Interrupt*);                                         \
  template void minimize_batch<T>(BatchObjectiveRef<T>, T*, index_t, index_t,                  \
                                  const Settings<T>&, const BatchOutput<T>&, int, Interrupt*);
OPTKERN_INSTANTIATE(float)
OPTKERN_INSTANTIATE(double)
#undef OPTKERN_INSTANTIATE

}  // namespace optkern::optimize
