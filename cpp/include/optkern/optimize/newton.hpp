// Modified Newton with Armijo backtracking (thesis section 1.1.2 and Figure 2): at each
// iterate the Hessian's eigenvalues are floored at eig_floor (1e-6) and the resulting Newton
// step is searched from alpha0 = 1 by backtracking (c1 = 1e-4, tau = 1/2).
//
//   auto fg = [](const Eigen::VectorXd& x, Eigen::VectorXd& g) { ...; return f; };
//   auto hess = [](const Eigen::VectorXd& x, Eigen::MatrixXd& h) { ... };  // full, symmetric
//   optkern::optimize::newton(fg, hess, x);
//
// newton_tridiagonal() takes hess(x, diag, off) for a tridiagonal Hessian (diag: n, off:
// n - 1) and never forms an n x n matrix. A dense Hessian that happens to be tridiagonal is
// detected and takes the same fast path (modified_newton.hpp).
#pragma once

#include <utility>
#include <vector>

#include "optkern/optimize/descent_core.hpp"
#include "optkern/optimize/driver.hpp"
#include "optkern/optimize/line_search.hpp"
#include "optkern/optimize/modified_newton.hpp"

namespace optkern::optimize {
OPTKERN_OPTIMIZE_ISA_BEGIN

enum class HessianForm { kDense, kTridiagonal };

// Reverse-communication Newton (protocol: descent_core.hpp); host only. On kHessian the
// driver writes the Hessian at x into hessian(): n x n row-major (kDense), or the diagonal
// (n) followed by the off-diagonal (n - 1) (kTridiagonal).
template <class T>
class NewtonMachine {
 public:
  NewtonMachine(index_t n, const NewtonOptions<T>& options, const DescentBuffers<T>& b,
                HessianForm form)
      : core_(n, options, b, Contiguous{}),
        o_(options),
        form_(form),
        search_(options.c1, options.tau),
        step_(n),
        hessian_(std::size_t(form == HessianForm::kDense ? n * n : 2 * n - 1)) {}

  T* hessian() { return hessian_.data(); }
  HessianForm form() const { return form_; }

  Request start() { return core_.start(); }

  Request tell(T f_trial) {
    if (!core_.started()) return core_.take_start(f_trial) ? Request::kHessian : Request::kDone;
    return core_.search_step(
        search_, f_trial, core_.trial_slope(),
        [&] {
          return core_.move_to_trial(f_trial,
                                     norms(core_.n(), core_.buffers().gt, Contiguous{}));
        },
        [&] { return core_.finish(Status::kLineSearchFailed); });
  }

  Request tell_hessian() {
    ++core_.counters().nhev;
    const index_t n = core_.n();
    const auto& b = core_.buffers();
    bool finite = true;
    for (const T& h : hessian_) finite = finite && is_finite(h);
    if (finite) {
      if (form_ == HessianForm::kDense) {
        step_.dense(hessian_.data(), b.g, b.p, double(o_.eig_floor));
      } else {
        step_.tridiagonal(hessian_.data(), hessian_.data() + n, b.g, b.p, double(o_.eig_floor));
      }
    }
    T slope = dot(n, b.g, b.p, Contiguous{});
    if (!finite || !(slope < T(0))) {  // a NaN Hessian or a failed solve: steepest descent
      scale_copy(n, T(-1), b.g, b.p, Contiguous{});
      slope = dot(n, b.g, b.p, Contiguous{});
    }
    const T min_step = core_.smallest_step(norm_inf(n, b.p, Contiguous{}));
    if (search_.start(core_.f(), slope, o_.alpha0, min_step) != SearchState::kEvaluate) {
      return core_.finish(Status::kLineSearchFailed);
    }
    return core_.trial(search_.step());
  }

  Request proceed(bool stop = false) { return core_.stops(stop) ? Request::kDone : Request::kHessian; }

  T f() const { return core_.f(); }
  T gradient_norm() const { return core_.gradient_norm(); }
  Status status() const { return core_.status(); }
  const Counters& counters() const { return core_.counters(); }
  const ModifiedNewtonStep& last_step() const { return step_; }

 private:
  DescentCore<T> core_;
  NewtonOptions<T> o_;
  HessianForm form_;
  ArmijoBacktracking<T> search_;
  ModifiedNewtonStep step_;
  std::vector<T> hessian_;
};

namespace detail {

template <class T>
void check_newton_options(const NewtonOptions<T>& o) {
  check_stop_options(o);
  check_backtracking(o.c1, o.tau, o.alpha0);
  require(o.eig_floor > T(0) && is_finite(o.eig_floor), "eig_floor", "must be a finite number > 0");
}

// fill_hessian(machine_hessian_pointer) evaluates the Hessian at the current x.
template <class T, class Objective, class FillHessian, class Callback>
Result<T> newton_run(Objective&& fg, FillHessian&& fill_hessian, HessianForm form, T* x,
                     index_t n, const NewtonOptions<T>& options, Callback&& callback) {
  require_start(x, n);
  check_newton_options(options);
  Vector<T> xt(n), gt(n), g(n), p(n);
  const DescentBuffers<T> b{x, g.data(), xt.data(), gt.data(), p.data()};
  NewtonMachine<T> machine(n, options, b, form);
  const Status status = run_machine(
      machine, [&] { return T(fg(std::as_const(xt), gt)); },
      [&] { fill_hessian(machine.hessian()); }, iterate_view(machine, x, g.data(), n), callback);
  return collect(machine, status, g.data(), n);
}

template <class T, class Objective, class Hessian, class Callback>
Result<T> newton_dense(Objective&& fg, Hessian&& hess, T* x, index_t n,
                       const NewtonOptions<T>& options, Callback&& callback) {
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  Matrix h = Matrix::Zero(n, n);
  const Eigen::Map<const Vector<T>> xmap(x, n);
  Vector<T> xcopy(n);
  auto fill = [&](T* out) {
    xcopy = xmap;
    hess(std::as_const(xcopy), h);
    // symmetric, so column-major h is also its own row-major form
    Eigen::Map<Matrix>(out, n, n) = h;
  };
  return newton_run(fg, fill, HessianForm::kDense, x, n, options, callback);
}

template <class T, class Objective, class Hessian, class Callback>
Result<T> newton_tri(Objective&& fg, Hessian&& hess, T* x, index_t n,
                     const NewtonOptions<T>& options, Callback&& callback) {
  Vector<T> diag(n), off(n > 1 ? n - 1 : 0), xcopy(n);
  const Eigen::Map<const Vector<T>> xmap(x, n);
  auto fill = [&](T* out) {
    xcopy = xmap;
    hess(std::as_const(xcopy), diag, off);
    Eigen::Map<Vector<T>>(out, n) = diag;
    Eigen::Map<Vector<T>>(out + n, n - 1) = off;
  };
  return newton_run(fg, fill, HessianForm::kTridiagonal, x, n, options, callback);
}

}  // namespace detail

// hess(x, H) fills the full symmetric n x n Eigen matrix H (column-major).
template <class Objective, class Hessian, class Callback = NoCallback>
Result<double> newton(Objective&& fg, Hessian&& hess, Eigen::Ref<Eigen::VectorXd> x,
                      const NewtonOptions<double>& options = {}, Callback&& callback = {}) {
  return detail::newton_dense<double>(fg, hess, x.data(), x.size(), options, callback);
}

template <class Objective, class Hessian, class Callback = NoCallback>
Result<float> newton(Objective&& fg, Hessian&& hess, Eigen::Ref<Eigen::VectorXf> x,
                     const NewtonOptions<float>& options = {}, Callback&& callback = {}) {
  return detail::newton_dense<float>(fg, hess, x.data(), x.size(), options, callback);
}

// hess(x, diag, off) fills the diagonal (n) and the off-diagonal (n - 1) of a tridiagonal
// Hessian.
template <class Objective, class Hessian, class Callback = NoCallback>
Result<double> newton_tridiagonal(Objective&& fg, Hessian&& hess, Eigen::Ref<Eigen::VectorXd> x,
                                  const NewtonOptions<double>& options = {},
                                  Callback&& callback = {}) {
  return detail::newton_tri<double>(fg, hess, x.data(), x.size(), options, callback);
}

template <class Objective, class Hessian, class Callback = NoCallback>
Result<float> newton_tridiagonal(Objective&& fg, Hessian&& hess, Eigen::Ref<Eigen::VectorXf> x,
                                 const NewtonOptions<float>& options = {},
                                 Callback&& callback = {}) {
  return detail::newton_tri<float>(fg, hess, x.data(), x.size(), options, callback);
}

OPTKERN_OPTIMIZE_ISA_END
}  // namespace optkern::optimize
