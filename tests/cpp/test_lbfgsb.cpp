// L-BFGS-B (lbfgsb.hpp) from C++: a user-defined objective with bounds, the KKT conditions
// at the result, active and inactive bounds, no bounds at all (then it is L-BFGS), float,
// a callback stop, the line-search fallback, and bad bounds.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "check.hpp"
#include "optkern/optimize/lbfgsb.hpp"
#include "optkern/optimize/problems.hpp"

namespace opt = optkern::optimize;

constexpr double kInf = std::numeric_limits<double>::infinity();

template <class Vec>
typename Vec::Scalar rosenbrock(const Vec& x, Vec& g) {
  using T = typename Vec::Scalar;
  return opt::problems::Rosenbrock<T>{}.value_grad(x.size(), x.data(), g.data(),
                                                   opt::Contiguous{});
}

// The KKT conditions of min f over the box at x: feasible, and the projected gradient is 0.
template <class Vec>
bool kkt(const Vec& x, const Vec& g, const Vec& lo, const Vec& hi, double tol) {
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    if (x[i] < lo[i] || x[i] > hi[i]) return false;
  }
  return opt::projected_gradient_norm(x.size(), x.data(), g.data(), lo.data(), hi.data()) <= tol;
}

// f = sum (x_i - c_i)^2 with c outside the box on some coordinates: x* = clamp(c).
void separable_quadratic() {
  const int n = 7;
  Eigen::VectorXd c(n), lo(n), hi(n), x = Eigen::VectorXd::Zero(n);
  c << 3, -3, 0.5, 10, -0.25, 2, -7;
  lo << -1, -1, -1, -kInf, -1, 2.5, -kInf;
  hi << 1, 1, 1, 1, kInf, kInf, kInf;
  int calls = 0;
  auto fg = [&](const Eigen::VectorXd& v, Eigen::VectorXd& g) {
    ++calls;
    g = 2 * (v - c);
    return (v - c).squaredNorm();
  };
  const auto r = opt::lbfgsb(fg, x, lo, hi);
  Eigen::VectorXd expected = c.cwiseMax(lo).cwiseMin(hi);
  CHECK(r.success());
  CHECK((x - expected).cwiseAbs().maxCoeff() < 1e-8);
  CHECK(r.nfev == calls && r.nfev < 20);
  CHECK(kkt(x, r.grad, lo, hi, 1e-5));
}

void bounded_rosenbrock() {
  const int n = 10;
  Eigen::VectorXd lo = Eigen::VectorXd::Constant(n, -kInf), hi = Eigen::VectorXd::Constant(n, kInf);
  for (int i = 0; i < n; i += 2) hi[i] = 0.5;  // the minimiser (1, ..., 1) is cut off
  lo[1] = 1.5;
  Eigen::VectorXd x = Eigen::VectorXd::Zero(n);
  opt::LbfgsOptions<double> o;
  o.gtol = 1e-8;
  o.ftol = 0;
  const auto r = opt::lbfgsb([](const Eigen::VectorXd& v, Eigen::VectorXd& g) {
    return rosenbrock(v, g);
  }, x, lo, hi, o);
  // at gtol 1e-8 rounding may end the run first: no decrease left (ftol 0) or no step found
  CHECK(r.status != opt::Status::kMaxIterations && r.status != opt::Status::kMaxEvaluations);
  CHECK(kkt(x, r.grad, lo, hi, 1e-6));
  CHECK(x[0] == 0.5 && x[1] == 1.5);  // both bounds active
}

void no_bounds_is_lbfgs() {
  for (int n : {2, 20}) {
    Eigen::VectorXd x(n), lo = Eigen::VectorXd::Constant(n, -kInf), hi = Eigen::VectorXd::Constant(n, kInf);
    for (int i = 0; i < n; ++i) x[i] = i % 2 == 0 ? -1.2 : 1.0;
    const auto r = opt::lbfgsb([](const Eigen::VectorXd& v, Eigen::VectorXd& g) {
      return rosenbrock(v, g);
    }, x, lo, hi);
    CHECK(r.success());
    CHECK((x.array() - 1).abs().maxCoeff() < 1e-4);
    CHECK(r.nit < 60 * n);
  }
}

void single_precision() {
  const int n = 6;
  Eigen::VectorXf x = Eigen::VectorXf::Constant(n, -1.0f);
  Eigen::VectorXf lo = Eigen::VectorXf::Constant(n, -2.0f), hi = Eigen::VectorXf::Constant(n, 0.8f);
  opt::LbfgsOptions<float> o;
  o.gtol = 1e-3f;
  const auto r = opt::lbfgsb([](const Eigen::VectorXf& v, Eigen::VectorXf& g) {
    return rosenbrock(v, g);
  }, x, lo, hi, o);
  CHECK(r.status != opt::Status::kNonFiniteStart);
  CHECK(x.maxCoeff() <= 0.8f && x.minCoeff() >= -2.0f);
  CHECK(opt::projected_gradient_norm(n, x.data(), r.grad.data(), lo.data(), hi.data()) < 1e-2f);
}

void callback_stop_and_start_outside_the_box() {
  const int n = 4;
  Eigen::VectorXd x = Eigen::VectorXd::Constant(n, 5.0);  // outside: moved into the box
  Eigen::VectorXd lo = Eigen::VectorXd::Constant(n, -1), hi = Eigen::VectorXd::Constant(n, 2);
  int seen = 0;
  const auto r = opt::lbfgsb(
      [](const Eigen::VectorXd& v, Eigen::VectorXd& g) { return rosenbrock(v, g); }, x, lo, hi,
      {}, [&](const opt::IterateView<double>& v) {
        for (Eigen::Index i = 0; i < v.n; ++i) CHECK(v.x[i] >= -1 && v.x[i] <= 2);
        return ++seen == 3;
      });
  CHECK(r.status == opt::Status::kCallbackStop && r.nit == 3);
}

// f = -exp(-x) decreases without bound as x -> -Inf: the searches end on the step limit,
// and the run must never come back with a point worse than one it evaluated.
void never_loses_progress() {
  Eigen::VectorXd x = Eigen::VectorXd::Zero(1);
  Eigen::VectorXd lo = Eigen::VectorXd::Constant(1, -50.0), hi = Eigen::VectorXd::Constant(1, kInf);
  double best = kInf;
  const auto r = opt::lbfgsb([&](const Eigen::VectorXd& v, Eigen::VectorXd& g) {
    const double f = -std::exp(-v[0]);
    g[0] = std::exp(-v[0]);
    if (f < best) best = f;
    return f;
  }, x, lo, hi);
  CHECK(x[0] == -50.0);  // the bound is the minimiser
  CHECK(r.fun == best);
  CHECK(r.success());
}

// A box-constrained tridiagonal quadratic, f = x'Ax/2 - b'x with A = tridiag(-1, 4, -1),
// with about half the bounds active at the solution: every memory size m (1, below n,
// above n) reaches the minimiser that projected Gauss-Seidel finds, through free sets that
// change from iteration to iteration (the incrementally updated Gram blocks and the ring of
// pairs, wrapped many times for small m).
void memory_sizes_and_changing_free_sets() {
  const int n = 40;
  Eigen::VectorXd b(n), lo = Eigen::VectorXd::Constant(n, -0.3);
  Eigen::VectorXd hi = Eigen::VectorXd::Constant(n, 0.5);
  for (int i = 0; i < n; ++i) b[i] = 3 * std::sin(1.7 * i);
  auto fg = [&](const Eigen::VectorXd& v, Eigen::VectorXd& g) {
    for (int i = 0; i < n; ++i) {
      g[i] = 4 * v[i] - (i > 0 ? v[i - 1] : 0.0) - (i + 1 < n ? v[i + 1] : 0.0) - b[i];
    }
    return 0.5 * v.dot(g - b);
  };
  // The reference: projected Gauss-Seidel (A is diagonally dominant).
  Eigen::VectorXd ref = Eigen::VectorXd::Zero(n);
  for (int sweep = 0; sweep < 2000; ++sweep) {
    for (int i = 0; i < n; ++i) {
      const double r = b[i] + (i > 0 ? ref[i - 1] : 0.0) + (i + 1 < n ? ref[i + 1] : 0.0);
      ref[i] = std::min(std::max(r / 4, lo[i]), hi[i]);
    }
  }
  int active = 0;
  for (int i = 0; i < n; ++i) active += ref[i] == lo[i] || ref[i] == hi[i];
  CHECK(active > n / 4 && active < 3 * n / 4);
  for (int m : {1, 2, 3, 5, 60}) {
    Eigen::VectorXd x(n);
    for (int i = 0; i < n; ++i) x[i] = i % 2 == 0 ? 0.5 : -0.3;
    opt::LbfgsOptions<double> o;
    o.m = m;
    o.gtol = 1e-10;
    o.ftol = 0;
    o.max_iter = 5000;
    const auto r = opt::lbfgsb(fg, x, lo, hi, o);
    CHECK(r.status != opt::Status::kMaxIterations && r.status != opt::Status::kMaxEvaluations);
    CHECK((x - ref).cwiseAbs().maxCoeff() < 1e-8);
    CHECK(kkt(x, r.grad, lo, hi, 1e-7));
  }
}

void bad_bounds() {
  Eigen::VectorXd x = Eigen::VectorXd::Zero(2), lo(2), hi(2);
  auto fg = [](const Eigen::VectorXd& v, Eigen::VectorXd& g) { g = v; return 0.5 * v.squaredNorm(); };
  lo << 0, 1;
  hi << 1, 0;
  CHECK(optkern_test::throws_invalid_argument([&] { opt::lbfgsb(fg, x, lo, hi); }, "bounds"));
  lo << 0, std::nan("");
  hi << 1, 1;
  CHECK(optkern_test::throws_invalid_argument([&] { opt::lbfgsb(fg, x, lo, hi); }, "bounds"));
  Eigen::VectorXd short_lo = Eigen::VectorXd::Zero(1);
  CHECK(optkern_test::throws_invalid_argument([&] { opt::lbfgsb(fg, x, short_lo, hi); }, "bounds"));
}

int main() {
  separable_quadratic();
  bounded_rosenbrock();
  no_bounds_is_lbfgs();
  single_precision();
  callback_stop_and_start_outside_the_box();
  never_loses_progress();
  memory_sizes_and_changing_free_sets();
  bad_bounds();
  return optkern_test::failures();
}
