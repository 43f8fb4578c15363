// Gradient descent with Armijo backtracking (thesis Algorithm 1), for any C++ objective
// fg(x, g) -> f; see lbfgs.hpp for the objective and callback conventions.
#pragma once

#include <utility>

#include "optkern/optimize/driver.hpp"
#include "optkern/optimize/gradient_descent_machine.hpp"

namespace optkern::optimize {
OPTKERN_OPTIMIZE_ISA_BEGIN

namespace detail {

template <class T>
void check_gradient_descent_options(const GradientDescentOptions<T>& o) {
  check_stop_options(o);
  check_backtracking(o.c1, o.tau, o.alpha0);
}

template <class T, class Objective, class Callback>
Result<T> gradient_descent_run(Objective&& fg, T* x, index_t n,
                               const GradientDescentOptions<T>& options, Callback&& callback) {
  require(n >= 1, "x", "must have at least one element");
  require_finite(x, n, "x");
  check_gradient_descent_options(options);
  Vector<T> xt(n), gt(n), g(n), p(n);
  const DescentBuffers<T> b{x, g.data(), xt.data(), gt.data(), p.data()};
  GradientDescentMachine<T> machine(n, options, b);
  const Status status =
      run_machine(machine, [&] { return T(fg(std::as_const(xt), gt)); }, NoHessian{},
                  iterate_view(machine, x, g.data(), n), callback);
  return collect(machine, status, g.data(), n);
}

}  // namespace detail

template <class Objective, class Callback = NoCallback>
Result<double> gradient_descent(Objective&& fg, Eigen::Ref<Eigen::VectorXd> x,
                                const GradientDescentOptions<double>& options = {},
                                Callback&& callback = {}) {
  return detail::gradient_descent_run<double>(fg, x.data(), x.size(), options, callback);
}

template <class Objective, class Callback = NoCallback>
Result<float> gradient_descent(Objective&& fg, Eigen::Ref<Eigen::VectorXf> x,
                               const GradientDescentOptions<float>& options = {},
                               Callback&& callback = {}) {
  return detail::gradient_descent_run<float>(fg, x.data(), x.size(), options, callback);
}

OPTKERN_OPTIMIZE_ISA_END
}  // namespace optkern::optimize
