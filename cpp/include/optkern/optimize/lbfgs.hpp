// L-BFGS with a strong Wolfe line search, for any C++ objective:
//
//   #include <optkern/optimize/lbfgs.hpp>
//   auto fg = [](const Eigen::VectorXd& x, Eigen::VectorXd& g) { g = 2 * x; return x.squaredNorm(); };
//   Eigen::VectorXd x = Eigen::VectorXd::Ones(10);
//   optkern::optimize::Result<double> r = optkern::optimize::lbfgs(fg, x);   // x is now ~0
//
// fg(x, g) returns f(x) and writes the gradient into g. It is called with two Eigen vectors
// of the solver's own (allocated once), so it may take them as `const Eigen::VectorXd&` and
// `Eigen::VectorXd&`, as Eigen::Ref, or as templates. An exception thrown by fg propagates
// out of lbfgs() unchanged. The algorithm is described in lbfgs_machine.hpp; the loop itself
// allocates nothing.
#pragma once

#include <utility>
#include <vector>

#include "optkern/optimize/driver.hpp"
#include "optkern/optimize/lbfgs_machine.hpp"

namespace optkern::optimize {
OPTKERN_OPTIMIZE_ISA_BEGIN

namespace detail {

template <class T>
void check_lbfgs_options(const LbfgsOptions<T>& o) {
  check_stop_options(o);
  check_wolfe_options(o);
  require(o.m >= 1, "m", "must be >= 1");
}

// Runs L-BFGS from x (n elements, updated in place to the result).
template <class T, class Objective, class Callback>
Result<T> lbfgs_run(Objective&& fg, T* x, index_t n, const LbfgsOptions<T>& options,
                    Callback&& callback) {
  require_start(x, n);
  check_lbfgs_options(options);
  Vector<T> xt(n), gt(n);
  std::vector<T> block(std::size_t(lbfgs_buffer_size(n, options.m)));
  LbfgsBuffers<T> b = lbfgs_buffers(block.data(), n, options.m);
  b.v.x = x;
  b.v.xt = xt.data();
  b.v.gt = gt.data();
  LbfgsMachine<T> machine(n, options, b);
  const Status status =
      run_machine(machine, [&] { return T(fg(std::as_const(xt), gt)); }, NoHessian{},
                  iterate_view(machine, x, b.v.g, n), callback);
  return collect(machine, status, b.v.g, n);
}

}  // namespace detail

// Minimises fg from x (updated in place). callback(const IterateView<double>&) -> bool is
// called after every iteration; returning true stops the run (status kCallbackStop).
// Throws std::invalid_argument for bad options or a non-finite x.
template <class Objective, class Callback = NoCallback>
Result<double> lbfgs(Objective&& fg, Eigen::Ref<Eigen::VectorXd> x,
                     const LbfgsOptions<double>& options = {}, Callback&& callback = {}) {
  return detail::lbfgs_run<double>(fg, x.data(), x.size(), options, callback);
}

template <class Objective, class Callback = NoCallback>
Result<float> lbfgs(Objective&& fg, Eigen::Ref<Eigen::VectorXf> x,
                    const LbfgsOptions<float>& options = {}, Callback&& callback = {}) {
  return detail::lbfgs_run<float>(fg, x.data(), x.size(), options, callback);
}

OPTKERN_OPTIMIZE_ISA_END
}  // namespace optkern::optimize
