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
  require_start(x, n);
  check_gradient_descent_options(options);
  const auto make = [&](const DescentBuffers<T>& b) {
    return GradientDescentMachine<T>(n, options, b);
  };
  return run_descent(x, n, make, fg, NoHessian{}, callback);
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
