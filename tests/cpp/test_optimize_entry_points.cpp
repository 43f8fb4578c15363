// The compiled entry points of optkern/optimize/minimize.hpp (test_lbfgs.cpp covers the
// header-only optimisers): minimize() with a C++ objective for every method, the lock-step
// minimize_batch(), the native problems' values, gradients, Hessians and starts against
// finite differences, the modified Newton direction on its three paths, float, and the
// argument checks.
#include <Eigen/Dense>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include "check.hpp"
#include "optkern/optimize/minimize.hpp"

namespace opt = optkern::optimize;
using opt::index_t;
using opt::problems::ProblemKind;
using opt::problems::ProblemSpec;

namespace {

const ProblemSpec kRosenbrock{ProblemKind::kRosenbrock};

// The chained Rosenbrock function from the native problem, as a C++ objective.
template <class T>
struct RosenbrockObjective {
  index_t n;
  long calls = 0;
  T operator()(const T* x, T* g) {
    ++calls;
    T f;
    opt::problem_value_grad<T>(kRosenbrock, 1, n, x, &f, g);
    return f;
  }
};

template <class T>
std::vector<T> start(const ProblemSpec& spec, index_t n) {
  std::vector<T> x(static_cast<std::size_t>(n));
  opt::problem_start<T>(spec, n, x.data());
  return x;
}

double max_abs_diff_from(const std::vector<double>& x, double value) {
  double d = 0;
  for (double v : x) d = std::max(d, std::abs(v - value));
  return d;
}

// minimize() with a C++ objective: each method reaches the minimum, and follows exactly the
// iterates of minimize_problem() on the same (native) function.
void test_minimize_every_method() {
  const index_t n = 10;
  for (auto method : {opt::Method::kLbfgs, opt::Method::kBfgs, opt::Method::kNewton,
                      opt::Method::kGradientDescent}) {
    const bool gd = method == opt::Method::kGradientDescent;  // slow: a limited run
    opt::Settings<double> s;
    s.method = method;
    s.stop.max_iter = gd ? 2000 : 100000;
    s.stop.max_fev = 100000;
    if (gd) s.alpha0 = 1e-3;
    RosenbrockObjective<double> fg{n};
    auto hess = [&](const double* x, double* h) { opt::problem_hessian<double>(kRosenbrock, n, x, h); };
    std::vector<double> x = start<double>(kRosenbrock, n), g(n);
    const auto r = opt::minimize<double>(fg, hess, {}, x.data(), g.data(), n, s);
    CHECK(gd ? r.status == opt::Status::kMaxIterations : r.success());
    // Newton's full steps from the standard start reach the other local minimum of the
    // chained function, near (-1, 1, ..., 1), where the gradient vanishes just as well.
    double gmax = 0;
    for (double v : g) gmax = std::max(gmax, std::abs(v));
    if (!gd) CHECK(gmax <= s.stop.gtol || r.status == opt::Status::kFunctionConverged);
    if (!gd && method != opt::Method::kNewton) CHECK(max_abs_diff_from(x, 1.0) < 1e-4);
    if (gd) CHECK(r.fun < 1.0);  // from 24.2 at the start
    CHECK(r.counters.nfev == fg.calls);
    CHECK(r.fun >= 0 && r.counters.nit > 0);
    if (method == opt::Method::kNewton) CHECK(r.counters.nhev >= r.counters.nit);

    std::vector<double> y = start<double>(kRosenbrock, n), gy(n);
    const auto native = opt::minimize_problem<double>(kRosenbrock, y.data(), gy.data(), n, s);
    if (method != opt::Method::kNewton) {  // native Newton uses the tridiagonal form
      CHECK(native.counters.nfev == r.counters.nfev && native.counters.nit == r.counters.nit);
      CHECK(x == y && g == gy);
    } else {
      double gap = 0;
      for (index_t i = 0; i < n; ++i) gap = std::max(gap, std::abs(x[i] - y[i]));
      CHECK(native.success() && gap < 1e-8);
    }
  }
  // BFGS from the floored inverse Hessian at x0 evaluates the Hessian once.
  opt::Settings<double> s;
  s.method = opt::Method::kBfgs;
  s.bfgs_hessian_start = true;
  RosenbrockObjective<double> fg{n};
  auto hess = [&](const double* x, double* h) { opt::problem_hessian<double>(kRosenbrock, n, x, h); };
  std::vector<double> x = start<double>(kRosenbrock, n), g(n);
  const auto r = opt::minimize<double>(fg, hess, {}, x.data(), g.data(), n, s);
  CHECK(r.success() && r.counters.nhev == 1 && max_abs_diff_from(x, 1.0) < 1e-4);

  // The callback sees every iterate and can stop the run.
  long seen = 0;
  auto callback = [&](const opt::IterateView<double>& v) {
    ++seen;
    CHECK(v.n == n && v.nit == seen);
    return v.nit == 3;
  };
  x = start<double>(kRosenbrock, n);
  const auto stopped =
      opt::minimize_problem<double>(kRosenbrock, x.data(), g.data(), n, opt::Settings<double>{}, callback);
  CHECK(stopped.status == opt::Status::kCallbackStop && stopped.counters.nit == 3 && seen == 3);

  // float: the same methods reach the minimum to float accuracy.
  for (auto method : {opt::Method::kLbfgs, opt::Method::kBfgs}) {
    opt::Settings<float> sf;
    sf.method = method;
    std::vector<float> xf = start<float>(kRosenbrock, n), gf(n);
    const auto rf = opt::minimize_problem<float>(kRosenbrock, xf.data(), gf.data(), n, sf);
    CHECK(rf.status != opt::Status::kNonFiniteStart);
    float worst = 0;
    for (float v : xf) worst = std::max(worst, std::abs(v - 1.0f));
    CHECK(worst < 1e-2f);
  }
}

void test_minimize_batch_equals_single_runs() {
  const index_t batch = 5, n = 6;
  for (auto method : {opt::Method::kLbfgs, opt::Method::kBfgs, opt::Method::kGradientDescent}) {
    opt::Settings<double> s;
    s.method = method;
    s.stop.max_iter = s.stop.max_fev = 300;  // gradient descent stops there
    if (method == opt::Method::kGradientDescent) s.alpha0 = 1e-3;
    std::vector<double> x(static_cast<std::size_t>(batch * n));
    for (index_t b = 0; b < batch; ++b)
      for (index_t i = 0; i < n; ++i) x[std::size_t(b * n + i)] = std::cos(double(b * n + i)) * 1.5;
    const std::vector<double> x0 = x;
    std::vector<double> f(batch), g(x.size());
    std::vector<std::int64_t> nit(batch), nfev(batch), nhev(batch);
    std::vector<std::int32_t> status(batch);
    long rounds = 0;
    auto fg = [&](const double* xt, double* ft, double* gt) {
      ++rounds;
      opt::problem_value_grad<double>(kRosenbrock, batch, n, xt, ft, gt);
    };
    for (int threads : {1, 2}) {
      x = x0;
      opt::minimize_batch<double>(fg, x.data(), batch, n, s,
                                  {f.data(), g.data(), nit.data(), nfev.data(), nhev.data(),
                                   status.data()},
                                  threads);
      std::int64_t most = 0;
      for (index_t b = 0; b < batch; ++b) {
        std::vector<double> xs(x0.begin() + b * n, x0.begin() + (b + 1) * n), gs(n);
        const auto single = opt::minimize_problem<double>(kRosenbrock, xs.data(), gs.data(), n, s);
        CHECK(single.counters.nfev == nfev[b] && single.counters.nit == nit[b]);
        CHECK(int(single.status) == status[b] && single.fun == f[b]);
        for (index_t i = 0; i < n; ++i) CHECK(xs[i] == x[b * n + i] && gs[i] == g[b * n + i]);
        most = std::max(most, nfev[b]);
      }
      CHECK(rounds >= most);  // fg is called once per round for the whole batch
      rounds = 0;
    }
  }
  // Newton and a BFGS Hessian start need Hessians, which a batched objective does not give.
  std::vector<double> x(12, 0.5), f(2), g(12);
  std::vector<std::int64_t> c(2);
  std::vector<std::int32_t> st(2);
  auto fg = [&](const double* xt, double* ft, double* gt) {
    opt::problem_value_grad<double>(kRosenbrock, 2, 6, xt, ft, gt);
  };
  opt::Settings<double> newton;
  newton.method = opt::Method::kNewton;
  CHECK(optkern_test::throws_invalid_argument(
      [&] {
        opt::minimize_batch<double>(fg, x.data(), 2, 6, newton,
                                    {f.data(), g.data(), c.data(), c.data(), c.data(), st.data()});
      },
      "method:"));
}

// Central differences of the gradient (for f) and of the gradient itself (for the Hessian).
void test_native_problems_against_finite_differences() {
  for (int k = 0; k < opt::problems::kProblemKinds; ++k) {
    const ProblemSpec spec{ProblemKind(k), 100.0};
    const index_t n = 8;
    std::vector<double> x = start<double>(spec, n);
    for (index_t i = 0; i < n; ++i) x[i] += 0.1 * std::sin(double(i + k));
    std::vector<double> g(n), h(static_cast<std::size_t>(n * n)), gp(n), gm(n);
    double f;
    opt::problem_value_grad<double>(spec, 1, n, x.data(), &f, g.data());
    opt::problem_hessian<double>(spec, n, x.data(), h.data());
    CHECK(std::isfinite(f));
    double grad_err = 0, hess_err = 0, scale = 1, hscale = 1, asym = 0;
    for (index_t i = 0; i < n; ++i) {
      const double step = 1e-6 * std::max(1.0, std::abs(x[i]));
      std::vector<double> xp = x, xm = x;
      xp[i] += step;
      xm[i] -= step;
      double fp, fm;
      opt::problem_value_grad<double>(spec, 1, n, xp.data(), &fp, gp.data());
      opt::problem_value_grad<double>(spec, 1, n, xm.data(), &fm, gm.data());
      grad_err = std::max(grad_err, std::abs((fp - fm) / (2 * step) - g[i]));
      scale = std::max(scale, std::abs(g[i]));
      for (index_t j = 0; j < n; ++j) {
        hess_err = std::max(hess_err, std::abs((gp[j] - gm[j]) / (2 * step) - h[j * n + i]));
        hscale = std::max(hscale, std::abs(h[j * n + i]));
        asym = std::max(asym, std::abs(h[i * n + j] - h[j * n + i]));
      }
    }
    if (!(grad_err < 1e-6 * scale && hess_err < 1e-5 * hscale && asym <= 1e-12 * hscale))
      std::fprintf(stderr, "problem %d: gradient error %g (scale %g), Hessian error %g (scale %g), asym %g\n", k, grad_err, scale,
                   hess_err, hscale, asym);
    CHECK(grad_err < 1e-6 * scale);
    CHECK(hess_err < 1e-5 * hscale);
    CHECK(asym <= 1e-12 * hscale);

    // Rows of a batch are evaluated independently, in float too.
    std::vector<double> rows(std::size_t(3 * n)), fr(3), gr(std::size_t(3 * n));
    for (int r = 0; r < 3; ++r) std::copy(x.begin(), x.end(), rows.begin() + r * n);
    opt::problem_value_grad<double>(spec, 3, n, rows.data(), fr.data(), gr.data());
    CHECK(fr[0] == f && fr[2] == f && std::equal(g.begin(), g.end(), gr.begin() + 2 * n));
    std::vector<float> xf(x.begin(), x.end()), gf(n);
    float ff;
    opt::problem_value_grad<float>(spec, 1, n, xf.data(), &ff, gf.data());
    CHECK(std::abs(double(ff) - f) <= 1e-4 * std::max(1.0, std::abs(f)));
  }
  // The standard start of the chained Rosenbrock function, and the size checks.
  const std::vector<double> x0 = start<double>(kRosenbrock, 4);
  CHECK(x0 == std::vector<double>({-1.2, 1.0, -1.2, 1.0}));
  std::vector<double> x(3), g(3);
  double f;
  CHECK(optkern_test::throws_invalid_argument(
      [&] { opt::problem_value_grad<double>({ProblemKind::kExtendedRosenbrock}, 1, 3, x.data(), &f, g.data()); },
      "x:"));
  CHECK(optkern_test::throws_invalid_argument(
      [&] { opt::problem_start<double>({ProblemKind::kRosenbrock}, 1, x.data()); }, "n:"));
}

// The direction p = -V max(L, floor)^-1 V' g against Eigen's eigendecomposition.
Eigen::VectorXd floored_newton(const Eigen::MatrixXd& H, const Eigen::VectorXd& g, double floor,
                               long* below) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(H);
  *below = long((eig.eigenvalues().array() < floor).count());
  const Eigen::VectorXd cut = eig.eigenvalues().cwiseMax(floor);
  return -eig.eigenvectors() * (eig.eigenvectors().transpose() * g).cwiseQuotient(cut);
}

// Runs the dense and, for a tridiagonal H, the tridiagonal form; expects `path` (dense form)
// and the floored Newton direction.
void expect_direction(const Eigen::MatrixXd& H, const Eigen::VectorXd& g, double floor,
                      const char* path, bool tridiagonal) {
  const index_t n = H.rows();
  long below;
  const Eigen::VectorXd expected = floored_newton(H, g, floor, &below);
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows = H;
  Eigen::VectorXd p(n);
  auto info = opt::modified_newton_direction(rows.data(), g.data(), p.data(), n, floor, false);
  CHECK(std::strcmp(info.path, path) == 0 && info.floored == below);
  CHECK((p - expected).cwiseAbs().maxCoeff() < 1e-10 * (1 + expected.cwiseAbs().maxCoeff()));
  CHECK(g.dot(p) < 0);  // a descent direction
  if (!tridiagonal) return;
  std::vector<double> tri(std::size_t(2 * n - 1));
  for (index_t i = 0; i < n; ++i) tri[i] = H(i, i);
  for (index_t i = 0; i + 1 < n; ++i) tri[n + i] = H(i, i + 1);
  p.setZero();
  info = opt::modified_newton_direction(tri.data(), g.data(), p.data(), n, floor, true);
  CHECK(std::strcmp(info.path, "tridiagonal") == 0 && info.floored == below);
  CHECK((p - expected).cwiseAbs().maxCoeff() < 1e-10 * (1 + expected.cwiseAbs().maxCoeff()));
}

void test_modified_newton_direction() {
  const index_t n = 6;
  Eigen::VectorXd g(n);
  for (index_t i = 0; i < n; ++i) g[i] = std::cos(double(i)) + 0.5;
  Eigen::MatrixXd H = Eigen::MatrixXd::Zero(n, n);
  for (index_t i = 0; i < n; ++i) H(i, i) = 4 + double(i);
  for (index_t i = 0; i + 1 < n; ++i) H(i, i + 1) = H(i + 1, i) = -1;
  // Positive definite: the plain Newton step, by the tridiagonal path, or by Cholesky once
  // the matrix is not tridiagonal.
  expect_direction(H, g, 1e-6, "tridiagonal", true);
  Eigen::MatrixXd D = H;
  D(0, 5) = D(5, 0) = 0.7;
  expect_direction(D, g, 1e-6, "cholesky", false);
  // Indefinite: eigenvalues below the floor are raised to it.
  H(0, 0) = D(0, 0) = -3;
  H(2, 2) = D(2, 2) = 0.1;
  expect_direction(H, g, 0.5, "tridiagonal", true);
  expect_direction(D, g, 0.5, "eigen", false);

  std::vector<double> h(static_cast<std::size_t>(n * n)), p(n);
  CHECK(optkern_test::throws_invalid_argument(
      [&] { opt::modified_newton_direction(h.data(), g.data(), p.data(), n, 0.0, false); },
      "floor:"));
}

void test_argument_checks() {
  const index_t n = 4;
  RosenbrockObjective<double> fg{n};
  std::vector<double> x = start<double>(kRosenbrock, n), g(n);
  using optkern_test::throws_invalid_argument;
  opt::Settings<double> newton;
  newton.method = opt::Method::kNewton;
  CHECK(throws_invalid_argument(
      [&] { opt::minimize<double>(fg, {}, {}, x.data(), g.data(), n, newton); }, "hess:"));
  opt::Settings<double> bfgs;
  bfgs.method = opt::Method::kBfgs;
  bfgs.bfgs_hessian_start = true;
  CHECK(throws_invalid_argument(
      [&] { opt::minimize<double>(fg, {}, {}, x.data(), g.data(), n, bfgs); }, "hess:"));
  opt::Settings<double> bad_m;
  bad_m.m = 0;
  CHECK(throws_invalid_argument(
      [&] { opt::minimize<double>(fg, {}, {}, x.data(), g.data(), n, bad_m); }, "m:"));
  opt::Settings<double> bad_method;
  bad_method.method = opt::Method(7);
  CHECK(throws_invalid_argument(
      [&] { opt::minimize<double>(fg, {}, {}, x.data(), g.data(), n, bad_method); }, "method:"));
  std::vector<double> nan = x;
  nan[1] = std::numeric_limits<double>::quiet_NaN();
  CHECK(throws_invalid_argument(
      [&] { opt::minimize<double>(fg, {}, {}, nan.data(), g.data(), n, {}); }, "x0:"));
  CHECK(throws_invalid_argument(
      [&] { opt::minimize<double>(fg, {}, {}, x.data(), g.data(), 0, {}); }, "x0:"));
  CHECK(throws_invalid_argument(
      [&] { opt::minimize_problem<double>({ProblemKind::kRosenbrock}, x.data(), g.data(), 1, {}); },
      "x0:"));
  CHECK(fg.calls == 0);  // nothing ran
}

}  // namespace

int main() {
  for (auto [name, test] : {std::pair{"minimize", &test_minimize_every_method},
                            {"minimize_batch", &test_minimize_batch_equals_single_runs},
                            {"problems", &test_native_problems_against_finite_differences},
                            {"newton direction", &test_modified_newton_direction},
                            {"checks", &test_argument_checks}}) {
    const auto start = std::chrono::steady_clock::now();
    test();
    std::printf("%s: %.2f s\n", name,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  if (optkern_test::failures() == 0) std::printf("test_optimize_entry_points: all checks passed\n");
  return optkern_test::failures();
}
