// The header-only optimisers from C++: a user-defined objective (the example below), the
// strong Wolfe conditions on every accepted step, float, the other methods, statuses,
// exceptions, bad options, and the compiled batch entry point.
#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <vector>

#include "check.hpp"
#include "optkern/optimize/bfgs.hpp"
#include "optkern/optimize/gradient_descent.hpp"
#include "optkern/optimize/lbfgs.hpp"
#include "optkern/optimize/minimize.hpp"
#include "optkern/optimize/newton.hpp"

namespace opt = optkern::optimize;

// A user-defined objective: a sum of squared residuals r_i = x_i^2 - i, minimum 0 at
// x_i = sqrt(i). It counts its evaluations and remembers each (x, f, g) it was asked for.
struct SquareRoots {
  struct Evaluation {
    Eigen::VectorXd x, g;
    double f;
  };
  std::vector<Evaluation> seen;

  double operator()(const Eigen::VectorXd& x, Eigen::VectorXd& g) {
    double f = 0;
    for (Eigen::Index i = 0; i < x.size(); ++i) {
      const double r = x[i] * x[i] - double(i + 1);
      f += r * r;
      g[i] = 4 * r * x[i];
    }
    seen.push_back({x, g, f});
    return f;
  }
};

template <class T>
Eigen::Matrix<T, Eigen::Dynamic, 1> rosenbrock_start(Eigen::Index n) {
  Eigen::Matrix<T, Eigen::Dynamic, 1> x(n);
  for (Eigen::Index i = 0; i < n; ++i) x[i] = i % 2 == 0 ? T(-1.2) : T(1);
  return x;
}

// f and g of the chained Rosenbrock function for Eigen vectors of any scalar
template <class Vec>
typename Vec::Scalar rosenbrock(const Vec& x, Vec& g) {
  using T = typename Vec::Scalar;
  return opt::problems::Rosenbrock<T>{}.value_grad(x.size(), x.data(), g.data(), opt::Contiguous{});
}

void user_objective_and_strong_wolfe() {
  SquareRoots objective;
  Eigen::VectorXd x = Eigen::VectorXd::Constant(6, 3.0);
  std::vector<Eigen::VectorXd> iterates{x};
  opt::LbfgsOptions<double> options;
  options.gtol = 1e-10;
  options.ftol = 0;
  auto callback = [&](const opt::IterateView<double>& v) {
    iterates.push_back(Eigen::Map<const Eigen::VectorXd>(v.x, v.n));
    return false;
  };
  const auto r = opt::lbfgs(std::ref(objective), x, options, callback);
  CHECK(r.success());
  CHECK(r.nfev == long(objective.seen.size()));
  for (Eigen::Index i = 0; i < 6; ++i) CHECK(std::abs(x[i] - std::sqrt(double(i + 1))) < 1e-8);
  CHECK(r.grad.cwiseAbs().maxCoeff() <= 1e-10);
  CHECK(long(iterates.size()) == r.nit + 1);
  // every accepted step satisfies the strong Wolfe conditions, on the values evaluated
  auto find = [&](const Eigen::VectorXd& at) -> const SquareRoots::Evaluation* {
    for (const auto& e : objective.seen)
      if (e.x == at) return &e;
    return nullptr;
  };
  for (std::size_t k = 0; k + 1 < iterates.size(); ++k) {
    const auto* a = find(iterates[k]);
    const auto* b = find(iterates[k + 1]);
    CHECK(a != nullptr && b != nullptr);
    if (!a || !b) continue;
    const Eigen::VectorXd s = b->x - a->x;
    const double slope0 = a->g.dot(s), slope1 = b->g.dot(s);
    CHECK(slope0 < 0);
    CHECK(b->f <= a->f + options.c1 * slope0 + 1e-12 * std::abs(a->f));
    CHECK(std::abs(slope1) <= options.c2 * std::abs(slope0) * (1 + 1e-10));
  }
}

void float_and_double_rosenbrock() {
  Eigen::VectorXd xd = rosenbrock_start<double>(100);
  const auto rd = opt::lbfgs([](const Eigen::VectorXd& x, Eigen::VectorXd& g) { return rosenbrock(x, g); }, xd);
  CHECK(rd.success());
  CHECK((xd.array() - 1).abs().maxCoeff() < 1e-4);
  CHECK(rd.nfev < 700);  // SciPy's L-BFGS-B: 607

  Eigen::VectorXf xf = rosenbrock_start<float>(20);
  const auto rf = opt::lbfgs([](const Eigen::VectorXf& x, Eigen::VectorXf& g) { return rosenbrock(x, g); }, xf);
  CHECK(rf.status != opt::Status::kNonFiniteStart);
  CHECK((xf.array() - 1).abs().maxCoeff() < 1e-2f);
}

void other_methods() {
  auto fg = [](const Eigen::VectorXd& x, Eigen::VectorXd& g) { return rosenbrock(x, g); };
  auto hess = [](const Eigen::VectorXd& x, Eigen::MatrixXd& h) {
    const Eigen::Index n = x.size();
    Eigen::VectorXd d(n), e(n - 1);
    opt::problems::Rosenbrock<double>{}.hessian_tridiagonal(n, x.data(), d.data(), e.data());
    h.setZero();
    h.diagonal() = d;
    h.diagonal(1) = e;
    h.diagonal(-1) = e;
  };
  auto tri = [](const Eigen::VectorXd& x, Eigen::VectorXd& d, Eigen::VectorXd& e) {
    opt::problems::Rosenbrock<double>{}.hessian_tridiagonal(x.size(), x.data(), d.data(), e.data());
  };
  const Eigen::VectorXd x0 = rosenbrock_start<double>(10);

  Eigen::VectorXd x = x0;
  auto r = opt::newton(fg, hess, x);
  CHECK(r.success() && r.nhev >= r.nit);
  Eigen::VectorXd y = x0;
  auto rt = opt::newton_tridiagonal(fg, tri, y);
  CHECK(rt.success() && rt.nit == r.nit && rt.nfev == r.nfev);
  CHECK((x - y).cwiseAbs().maxCoeff() < 1e-12);

  x = x0;
  r = opt::bfgs(fg, x);
  CHECK(r.success() && (x.array() - 1).abs().maxCoeff() < 1e-4 && r.nhev == 0);
  x = x0;
  r = opt::bfgs(fg, hess, x);
  CHECK(r.success() && (x.array() - 1).abs().maxCoeff() < 1e-4 && r.nhev == 1);

  x = Eigen::VectorXd::Constant(4, 0.5);
  opt::GradientDescentOptions<double> gd;
  gd.alpha0 = 1e-3;
  gd.ftol = 0;
  gd.max_iter = 200000;
  gd.max_fev = 400000;
  r = opt::gradient_descent(fg, x, gd);
  CHECK(r.success() && (x.array() - 1).abs().maxCoeff() < 1e-3);
}

void statuses() {
  // NaN everywhere: one evaluation, a clear status
  int calls = 0;
  auto nan = [&](const Eigen::VectorXd& x, Eigen::VectorXd& g) {
    ++calls;
    g.setConstant(std::numeric_limits<double>::quiet_NaN());
    return x[0] * std::numeric_limits<double>::quiet_NaN();
  };
  Eigen::VectorXd x = Eigen::VectorXd::Ones(3);
  auto r = opt::lbfgs(nan, x);
  CHECK(r.status == opt::Status::kNonFiniteStart && calls == 1 && !r.success());

  // a wrong gradient: the search fails, x stays the best iterate
  auto uphill = [](const Eigen::VectorXd& v, Eigen::VectorXd& g) {
    g = -2 * v;
    return v.squaredNorm();
  };
  x = Eigen::VectorXd::Ones(3);
  r = opt::lbfgs(uphill, x);
  CHECK(r.status == opt::Status::kLineSearchFailed && x == Eigen::VectorXd::Ones(3));

  // limits and the callback
  auto fg = [](const Eigen::VectorXd& v, Eigen::VectorXd& g) { return rosenbrock(v, g); };
  opt::LbfgsOptions<double> o;
  o.max_iter = 5;
  x = rosenbrock_start<double>(8);
  r = opt::lbfgs(fg, x, o);
  CHECK(r.status == opt::Status::kMaxIterations && r.nit == 5);
  o = {};
  o.max_fev = 7;
  x = rosenbrock_start<double>(8);
  r = opt::lbfgs(fg, x, o);
  CHECK(r.status == opt::Status::kMaxEvaluations && r.nfev == 7);
  x = rosenbrock_start<double>(8);
  r = opt::lbfgs(fg, x, {}, [](const opt::IterateView<double>& v) { return v.nit == 3; });
  CHECK(r.status == opt::Status::kCallbackStop && r.nit == 3);

  // an exception thrown by the objective propagates unchanged
  struct Stop {};
  auto throws = [&](const Eigen::VectorXd& v, Eigen::VectorXd& g) -> double {
    if (v[0] > 0.5) throw Stop{};
    return rosenbrock(v, g);
  };
  bool caught = false;
  try {
    x = rosenbrock_start<double>(4);
    opt::lbfgs(throws, x);
  } catch (const Stop&) {
    caught = true;
  }
  CHECK(caught);
}

void bad_options() {
  auto fg = [](const Eigen::VectorXd& v, Eigen::VectorXd& g) { return rosenbrock(v, g); };
  Eigen::VectorXd x = Eigen::VectorXd::Ones(4);
  auto with = [&](auto change) {
    return [&, change] {
      opt::LbfgsOptions<double> o;
      change(o);
      opt::lbfgs(fg, x, o);
    };
  };
  using optkern_test::throws_invalid_argument;
  CHECK(throws_invalid_argument(with([](auto& o) { o.m = 0; }), "m:"));
  CHECK(throws_invalid_argument(with([](auto& o) { o.c1 = 0.95; }), "c1:"));
  CHECK(throws_invalid_argument(with([](auto& o) { o.c2 = 1.0; }), "c2:"));
  CHECK(throws_invalid_argument(with([](auto& o) { o.c1 = -1; }), "c1:"));
  CHECK(throws_invalid_argument(with([](auto& o) { o.gtol = -1; }), "gtol:"));
  CHECK(throws_invalid_argument(with([](auto& o) { o.max_fev = 0; }), "max_fev:"));
  Eigen::VectorXd bad = Eigen::VectorXd::Ones(3);
  bad[1] = std::numeric_limits<double>::quiet_NaN();
  CHECK(throws_invalid_argument([&] { opt::lbfgs(fg, bad); }, "x:"));
  Eigen::VectorXd empty;
  CHECK(throws_invalid_argument([&] { opt::lbfgs(fg, empty); }, "x:"));
}

void compiled_batch() {
  const opt::problems::ProblemSpec spec{opt::problems::ProblemKind::kExtendedRosenbrock};
  const opt::index_t batch = 16, n = 4;
  std::vector<double> x(std::size_t(batch * n)), f(batch), g(std::size_t(batch * n));
  std::vector<std::int64_t> nit(batch), nfev(batch), nhev(batch);
  std::vector<std::int32_t> status(batch);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(double(i)) * 2;
  const std::vector<double> x0 = x;
  opt::Settings<double> settings;
  opt::minimize_problem_batch<double>(spec, x.data(), batch, n, settings,
                                      {f.data(), g.data(), nit.data(), nfev.data(), nhev.data(),
                                       status.data()},
                                      2);
  for (opt::index_t b = 0; b < batch; ++b) {
    CHECK(opt::converged(opt::Status(status[b])));
    std::vector<double> xs(x0.begin() + b * n, x0.begin() + (b + 1) * n), gs(n);
    const auto single = opt::minimize_problem<double>(spec, xs.data(), gs.data(), n, settings);
    CHECK(single.counters.nfev == nfev[b] && single.counters.nit == nit[b]);
    for (opt::index_t i = 0; i < n; ++i) CHECK(xs[i] == x[b * n + i]);
  }
}

int main() {
  user_objective_and_strong_wolfe();
  float_and_double_rosenbrock();
  other_methods();
  statuses();
  bad_options();
  compiled_batch();
  return optkern_test::failures();
}
