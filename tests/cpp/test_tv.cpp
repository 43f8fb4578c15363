// C++ tests of the 1-D TV kernels and the tridiagonal solver: optimality certificates, the
// taut string against Condat's algorithm (the GPU's per-thread kernel, run here on the host),
// IRLS against the exact solution, the backward's averaging, pivoting, and bad arguments.
#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "check.hpp"
#include "optkern/linalg/tridiagonal_partition.hpp"
#include "optkern/linalg/tridiagonal_system.hpp"
#include "optkern/detail/tv_condat.hpp"
#include "optkern/detail/tv_segments.hpp"
#include "optkern/detail/tv_taut_string.hpp"
#include "optkern/tridiagonal.hpp"
#include "optkern/tv.hpp"

using optkern::index_t;
using Vec = std::vector<double>;

namespace {

std::mt19937_64 rng(7);

Vec random_signal(index_t n, int kind) {
  std::normal_distribution<double> normal;
  Vec x(std::size_t(n), 0.0);
  double level = 0;
  for (index_t i = 0; i < n; ++i) {
    if (kind == 0) x[i] = normal(rng);
    if (kind == 1) x[i] = (level += normal(rng));  // random walk
    if (kind == 2) {                                // blocks plus noise
      if (i % 25 == 0) level = normal(rng);
      x[i] = level + 0.1 * normal(rng);
    }
    if (kind == 3) x[i] = double(rng() % 3);  // many ties
  }
  return x;
}

double lambda_max(const Vec& x) {
  double mean = 0, z = 0, best = 0;
  for (double v : x) mean += v / double(x.size());
  for (std::size_t k = 0; k + 1 < x.size(); ++k) best = std::max(best, std::fabs(z += x[k] - mean));
  return best;
}

// Largest violation of the optimality certificate, relative to lam + max|x|: with
// z = cumsum(x - y), |z_k| <= lam, z_n = 0, z_k = lam sign(y_k - y_{k+1}) at jumps.
double certificate_violation(const Vec& x, const Vec& y, double lam) {
  double z = 0, worst = 0, scale = lam;
  for (double v : x) scale = std::max(scale, std::fabs(v));
  for (std::size_t k = 0; k < x.size(); ++k) {
    z += x[k] - y[k];
    if (k + 1 == x.size()) {
      worst = std::max(worst, std::fabs(z));
    } else {
      worst = std::max(worst, std::fabs(z) - lam);
      if (y[k] != y[k + 1]) worst = std::max(worst, std::fabs(z - lam * (y[k] > y[k + 1] ? 1 : -1)));
    }
  }
  return worst / scale;
}

Vec exact(const Vec& x, double lam) {
  Vec y(x.size());
  optkern::tv_denoise<double>(1, index_t(x.size()), x.data(), &lam, 0, y.data());
  return y;
}

void test_taut_string_certificate_and_condat_agree() {
  for (int trial = 0; trial < 400; ++trial) {
    const index_t n = 1 + index_t(rng() % 300);
    const Vec x = random_signal(n, trial % 4);
    const double fractions[] = {1e-3, 0.05, 0.3, 1.0, 2.0};
    const double lam = fractions[trial % 5] * std::max(lambda_max(x), 1e-3);
    const Vec y = exact(x, lam);
    CHECK(certificate_violation(x, y, lam) < 1e-12 * double(n));
    Vec yc(x.size());
    const bool done = optkern::detail::condat_denoise<double>(n, x.data(), lam, yc.data(), 1 << 30);
    CHECK(done);
    double diff = 0;
    for (index_t i = 0; i < n; ++i) diff = std::max(diff, std::fabs(y[i] - yc[i]));
    CHECK(diff < 1e-10 * (1 + lam));
    // Condat in place gives the same answer
    Vec inplace = x;
    optkern::detail::condat_denoise<double>(n, inplace.data(), lam, inplace.data(), 1 << 30);
    CHECK(inplace == yc);
  }
}

void test_condat_budget_reports_running_out() {
  const Vec x = random_signal(2000, 1);
  Vec y(x.size());
  const double lam = 0.3 * lambda_max(x);
  CHECK(!optkern::detail::condat_denoise<double>(2000, x.data(), lam, y.data(), 100));
  CHECK(optkern::detail::condat_denoise<double>(2000, x.data(), lam, y.data(), 1 << 30));
}

void test_condat_rate_gives_up_early_and_ties_merge() {
  // Long segments (large lam) rescan a lot: with a rate it gives up long before the end...
  const Vec walk = random_signal(20000, 1);
  Vec y(walk.size());
  const double lam = 0.1 * lambda_max(walk);
  CHECK(!optkern::detail::condat_denoise<double>(20000, walk.data(), lam, y.data(), 256, 3));
  // ...and the exact solver, which then takes the taut string, still meets the certificate.
  CHECK(certificate_violation(walk, exact(walk, lam), lam) < 1e-12 * 20000);
  // Short segments (small lam on noise) rescan little: it finishes within the same rate.
  const Vec noise = random_signal(20000, 0);
  CHECK(optkern::detail::condat_denoise<double>(20000, noise.data(), 0.05, y.data(), 256, 3));
  CHECK(certificate_violation(noise, y, 0.05) < 1e-12 * 20000);
  // budget 0 (rate 0) gives up at once: the CUDA path forces its fallback with it
  CHECK(!optkern::detail::condat_denoise<double>(20000, noise.data(), 0.05, y.data(), 0));
  // lam = lambda_max: one exact value, no jump from rounding (ties join their run).
  for (int trial = 0; trial < 50; ++trial) {
    const Vec x = random_signal(1 + index_t(rng() % 200), trial % 4);
    Vec yc(x.size());
    CHECK(optkern::detail::condat_denoise<double>(index_t(x.size()), x.data(), lambda_max(x),
                                                  yc.data(), 1 << 30));
    for (std::size_t i = 1; i < x.size(); ++i) CHECK(yc[i] == yc[0]);
  }
}

// The taut string alone (the exact solver's fallback), with chains large enough never to grow.
Vec taut_string(const Vec& x, double lam) {
  const index_t n = index_t(x.size());
  std::vector<optkern::detail::TautSegment<double>> a(x.size() + 1), b(x.size() + 1);
  auto no_grow = [](optkern::detail::TautChain<double>&) { return false; };
  Vec y(x.size());
  const auto status = optkern::detail::taut_string_denoise(
      n, x.data(), optkern::detail::ConstantWidth<double>{lam}, 1.0, 1.0, y.data(),
      optkern::detail::TautChain<double>{a.data(), a.data() + n + 1},
      optkern::detail::TautChain<double>{b.data(), b.data() + n + 1}, no_grow);
  CHECK(status == optkern::detail::TautStatus::kDone);
  return y;
}

void test_condat_and_the_taut_string_agree_with_and_without_offsets() {
  // The two paths of the exact solver give the same segments and values up to rounding, on
  // the signals where the solver takes Condat's (small lam) and where it takes the taut string.
  for (int trial = 0; trial < 200; ++trial) {
    const index_t n = 2 + index_t(rng() % 2000);
    Vec x = random_signal(n, trial % 4);
    const double fractions[] = {1e-4, 1e-3, 0.01, 0.1, 1.0};
    const double lam = fractions[trial % 5] * std::max(lambda_max(x), 1e-3);
    for (double offset : {0.0, 1e6}) {
      Vec xc = x;
      for (double& v : xc) v += offset;
      const Vec t = taut_string(xc, lam);
      Vec c(x.size());
      CHECK(optkern::detail::condat_denoise<double>(n, xc.data(), lam, c.data(), 1 << 30));
      double largest = 0, diff = 0;
      for (index_t i = 0; i < n; ++i) {
        largest = std::max(largest, std::fabs(xc[i]));
        diff = std::max(diff, std::fabs(t[i] - c[i]));
      }
      CHECK(diff <= 1e-12 * (largest + lam));
      const Vec e = exact(xc, lam);  // whichever path it took
      for (index_t i = 0; i < n; ++i) CHECK(std::fabs(e[i] - t[i]) <= 1e-12 * (largest + lam));
    }
  }
}

// The weighted walk (per-edge lam, EdgeLambdas) against the weighted taut string (EdgeWidths):
// random weights with zeros (free edges), with and without an offset; a weight at or above the
// cap makes the walk give up (the taut string reads it as the cap); equal weights give the
// scalar walk's answer.
void test_weighted_condat_agrees_with_the_weighted_taut_string() {
  using Lambdas = optkern::detail::EdgeLambdas<double, const double*>;
  using Widths = optkern::detail::EdgeWidths<double, const double*>;
  auto no_grow = [](optkern::detail::TautChain<double>&) { return false; };
  for (int trial = 0; trial < 300; ++trial) {
    const index_t n = 2 + index_t(rng() % 1000);
    const Vec x = random_signal(n, trial % 4);
    const double scales[] = {1e-3, 0.03, 0.3, 3.0, 30.0};
    const double scale = scales[trial % 5];
    Vec w(std::size_t(n - 1));
    for (double& v : w) {
      const auto r = rng() % 20;
      v = r == 0 ? 0.0 : scale * 2 * double(rng() % 1000) / 1000;
    }
    Vec huge = w;
    huge[rng() % huge.size()] = 1e300;
    for (double offset : {0.0, -1e6}) {
      Vec xc = x;
      for (double& v : xc) v += offset;
      const auto [lo, hi] = std::minmax_element(xc.begin(), xc.end());
      const double cap = double(n) * (*hi - *lo);
      double widest = 0, largest = 0;
      for (double v : w) widest = std::max(widest, std::min(v, cap));
      for (double v : xc) largest = std::max(largest, std::fabs(v));
      // (the walk without a cap: these weights are small, and the solution is the same)
      const double no_cap = std::numeric_limits<double>::infinity();
      Vec c(xc.size()), t(xc.size()), scratch(xc.size());
      CHECK(optkern::detail::condat_walk<double>(n, xc.data(), Lambdas{w.data(), n - 1, no_cap},
                                                 c.data(), 1 << 30));
      std::vector<optkern::detail::TautSegment<double>> a(xc.size() + 1), b(xc.size() + 1);
      const auto status = optkern::detail::taut_string_denoise(
          n, xc.data(), Widths{w.data(), cap, 1.0, widest}, 1.0, 1.0, t.data(),
          optkern::detail::TautChain<double>{a.data(), a.data() + n + 1},
          optkern::detail::TautChain<double>{b.data(), b.data() + n + 1}, no_grow);
      CHECK(status == optkern::detail::TautStatus::kDone);
      double diff = 0;
      for (index_t i = 0; i < n; ++i) diff = std::max(diff, std::fabs(t[i] - c[i]));
      CHECK(diff <= 1e-12 * (largest + widest));
      CHECK(!optkern::detail::condat_walk<double>(n, xc.data(), Lambdas{huge.data(), n - 1, cap},
                                                  scratch.data(), 1 << 30));
      Vec inplace = xc;  // in place, the same answer
      optkern::detail::condat_walk<double>(n, inplace.data(), Lambdas{w.data(), n - 1, no_cap},
                                           inplace.data(), 1 << 30);
      CHECK(inplace == c);
    }
    // equal weights: the scalar walk's answer (up to rounding: the weighted walk asks
    // z_n-1 = 0 at the last sample, the scalar one at its end)
    const Vec same(std::size_t(n - 1), scale);
    Vec c(x.size()), s(x.size());
    CHECK(optkern::detail::condat_walk<double>(n, x.data(), Lambdas{same.data(), n - 1, 1e300},
                                               c.data(), 1 << 30));
    CHECK(optkern::detail::condat_denoise<double>(n, x.data(), scale, s.data(), 1 << 30));
    double diff = 0, largest = 0;
    for (index_t i = 0; i < n; ++i) {
      diff = std::max(diff, std::fabs(c[i] - s[i]));
      largest = std::max(largest, std::fabs(x[i]));
    }
    CHECK(diff <= 1e-12 * (largest + scale));
  }
  // Long segments rescan a lot: with near-equal weights and the CPU's rate the weighted walk
  // gives up, and the exact solver, which then takes the taut string, still meets the
  // certificate. (Weights spread over [0, 2 lam] cut the segments short: it finishes.)
  const index_t n = 20000;
  const Vec walk = random_signal(n, 1);
  Vec w(std::size_t(n - 1)), y(walk.size());
  const double lam = 0.1 * lambda_max(walk);
  for (double& v : w) v = lam * (0.95 + 0.1 * double(rng() % 1000) / 1000);
  CHECK(!optkern::detail::condat_walk<double>(n, walk.data(), Lambdas{w.data(), n - 1, 1e300},
                                              y.data(), 256, 3));
  optkern::tv_denoise_weighted<double>(1, n, walk.data(), w.data(), 0, y.data());
  double z = 0, worst = 0;
  for (index_t k = 0; k + 1 < n; ++k) {
    z += walk[k] - y[k];
    worst = std::max(worst, std::fabs(z) - w[k]);
    if (y[k] != y[k + 1]) worst = std::max(worst, std::fabs(z - w[k] * (y[k] > y[k + 1] ? 1 : -1)));
  }
  CHECK(worst < 1e-12 * n * lam);
  for (double& v : w) v = 2 * lam * double(rng() % 1000) / 1000;
  CHECK(optkern::detail::condat_walk<double>(n, walk.data(), Lambdas{w.data(), n - 1, 1e300},
                                             y.data(), 256, 3));
}

void test_non_finite_signals_throw() {
  for (double bad : {std::nan(""), HUGE_VAL, -HUGE_VAL}) {
    Vec x = random_signal(40, 0);
    x[37] = bad;
    Vec y(x.size());
    const double lam = 0.5;
    bool threw = false;
    try {
      optkern::tv_denoise<double>(2, 20, x.data(), &lam, 0, y.data());
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    CHECK(threw);
  }
}

void test_edges() {
  const Vec one = {3.5};
  CHECK(exact(one, 10.0) == one);
  const Vec two = {1.0, 4.0};
  const Vec y2 = exact(two, 1.0);  // jump shrinks by 2 lam
  CHECK(std::fabs(y2[0] - 2.0) < 1e-15 && std::fabs(y2[1] - 3.0) < 1e-15);
  const Vec fused = exact(two, 1.5);
  CHECK(fused[0] == fused[1] && std::fabs(fused[0] - 2.5) < 1e-15);
  const Vec x = random_signal(50, 0);
  CHECK(exact(x, 0.0) == x);
  const Vec flat = exact(x, lambda_max(x) * 1.0000001);
  double mean = 0;
  for (double v : x) mean += v / 50;
  for (double v : flat) CHECK(std::fabs(v - mean) < 1e-13);
  const Vec constant(40, -2.25);
  CHECK(exact(constant, 3.0) == constant);
}

void test_overflowing_sums_are_rescaled() {
  Vec x = random_signal(64, 2);
  const double lam = 0.2 * lambda_max(x);
  const Vec y = exact(x, lam);
  Vec big(x.size());
  const double s = std::ldexp(1.0, 1015);  // partial sums of x * s overflow
  for (std::size_t i = 0; i < x.size(); ++i) big[i] = x[i] * s;
  const Vec yb = exact(big, lam * s);
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(std::isfinite(yb[i]) && std::fabs(yb[i] / s - y[i]) < 1e-12);
}

void test_float_batch_and_per_signal_lambda() {
  const index_t batch = 37, n = 91;
  std::vector<float> x(std::size_t(batch * n)), y(x.size());
  Vec lam(static_cast<std::size_t>(batch));
  for (index_t b = 0; b < batch; ++b) {
    const Vec xb = random_signal(n, int(b % 3));
    for (index_t i = 0; i < n; ++i) x[b * n + i] = float(xb[i]);
    lam[b] = 0.01 * double(b);
  }
  optkern::tv_denoise<float>(batch, n, x.data(), lam.data(), 1, y.data(), 2);
  for (index_t b = 0; b < batch; ++b) {
    Vec xb(x.begin() + b * n, x.begin() + (b + 1) * n);
    const Vec yb = exact(xb, lam[b]);
    for (index_t i = 0; i < n; ++i) CHECK(std::fabs(y[b * n + i] - yb[i]) <= 1e-6 * (1 + std::fabs(yb[i])));
  }
}

void test_irls_approaches_exact() {
  const Vec x = random_signal(200, 2);
  const double lam = 0.5;
  const Vec y = exact(x, lam);
  double previous = 1e300;
  for (index_t iters : {10, 100, 1000}) {
    Vec u(x.size());
    index_t nit = 0;
    double change = 0;
    optkern::tv_denoise_irls<double>(1, 200, x.data(), &lam, 0, 1e-300, iters, u.data(), &nit,
                                     &change);
    CHECK(nit == iters && change > 0);
    const double err = optkern_test::max_abs_diff(u, y);
    CHECK(err < previous);
    previous = err;
  }
  CHECK(previous < 1e-2);
}

void test_vjp_averages_segments() {
  const Vec y = {1, 1, 1, 3, 3, 0};
  const Vec g = {1, 2, 6, 4, 0, 5};
  Vec gx(6);
  const double grad_lam = optkern::detail::segment_vjp<double>(6, y.data(), g.data(), 0.0, gx.data());
  const Vec expected = {3, 3, 3, 2, 2, 5};
  CHECK(gx == expected);
  // segments: [0..2] up-jump on the right (v=-1), [3..4] v_left=-1 v_right=+1, [5] v_left=+1
  // grad_lam = -sum (v_right - v_left) mean(g_S) = -(-1*3 + 2*2 + (0-1)*5) = 4
  CHECK(std::fabs(grad_lam - 4.0) < 1e-15);
}

Eigen::MatrixXd dense(const Vec& lower, const Vec& diag, const Vec& upper) {
  const index_t n = index_t(diag.size());
  Eigen::MatrixXd a = Eigen::MatrixXd::Zero(n, n);
  for (index_t i = 0; i < n; ++i) {
    a(i, i) = diag[i];
    if (i > 0) a(i, i - 1) = lower[i];
    if (i + 1 < n) a(i, i + 1) = upper[i];
  }
  return a;
}

void test_tridiagonal_against_dense() {
  std::normal_distribution<double> normal;
  for (int trial = 0; trial < 200; ++trial) {
    const index_t n = 1 + index_t(rng() % 40);
    Vec lower(n), diag(n), upper(n), rhs(n), x(n);
    const bool dominant = trial % 2 == 0;  // odd trials need pivoting
    for (index_t i = 0; i < n; ++i) {
      lower[i] = normal(rng);
      upper[i] = normal(rng);
      diag[i] = dominant ? 3 + std::fabs(normal(rng)) : 1e-3 * normal(rng);
      rhs[i] = normal(rng);
    }
    optkern::TridiagonalSystems<double> s;
    s.batch = 1;
    s.n = n;
    s.lower = lower.data();
    s.diag = diag.data();
    s.upper = upper.data();
    s.rhs = rhs.data();
    const index_t singular = optkern::tridiagonal_solve(s, x.data());
    const Eigen::MatrixXd a = dense(lower, diag, upper);
    const Eigen::VectorXd b = Eigen::Map<Eigen::VectorXd>(rhs.data(), n);
    const Eigen::VectorXd ref = a.fullPivLu().solve(b);
    const double cond = a.norm() * a.inverse().norm();
    CHECK(singular == 0);
    for (index_t i = 0; i < n; ++i) CHECK(std::fabs(x[i] - ref[i]) <= 1e-13 * cond * (1 + ref.norm()));
  }
}

// The GPU's one-block-per-system solver, its phases run one worker after another.
void test_partition_method_matches_thomas() {
  std::normal_distribution<double> normal;
  for (index_t workers : {1, 2, 7, 32}) {
    for (index_t n : {2 * workers - 1, 2 * workers + 3, index_t(1000)}) {
      Vec lower(n), diag(n), upper(n), rhs(n), x(n), want(n), cp(n), g(n), e(n), f(n), w(2 * n);
      for (index_t i = 0; i < n; ++i) {
        lower[i] = normal(rng);
        upper[i] = normal(rng);
        diag[i] = 2.5 + std::fabs(lower[i]) + std::fabs(upper[i]);
        rhs[i] = normal(rng);
      }
      CHECK(optkern::detail::thomas_solve<double>(n, lower.data(), diag.data(), upper.data(),
                                                  rhs.data(), want.data(), w.data(), w.data() + n));
      bool ok = true;
      for (index_t c = 0; c < workers; ++c)
        ok = optkern::detail::partition_chunk<double>(c, workers, n, lower.data(), diag.data(),
                                                      upper.data(), rhs.data(), cp.data(),
                                                      g.data(), e.data(), f.data()) && ok;
      CHECK(ok);
      const index_t m = workers - 1;
      Vec rl(m + 1), rd(m + 1), ru(m + 1), rr(m + 1), sep(m + 1), rw(2 * m + 2);
      for (index_t c = 1; c < workers; ++c)
        optkern::detail::partition_reduced_row<double>(c, workers, n, lower.data(), diag.data(),
                                                       upper.data(), rhs.data(), g.data(), e.data(),
                                                       f.data(), rl.data(), rd.data(), ru.data(),
                                                       rr.data());
      CHECK(optkern::detail::thomas_solve<double>(m, rl.data(), rd.data(), ru.data(), rr.data(),
                                                  sep.data(), rw.data(), rw.data() + m));
      for (index_t c = 0; c < workers; ++c)
        optkern::detail::partition_finish<double>(c, workers, n, g.data(), e.data(), f.data(),
                                                  sep.data(), x.data());
      double diff = 0;
      for (index_t i = 0; i < n; ++i) diff = std::max(diff, std::fabs(x[i] - want[i]));
      CHECK(diff < 1e-13);
    }
  }
}

void test_tridiagonal_singular_and_shared_operands() {
  const Vec lower = {0, 1, 1}, diag = {1, 1, 1}, upper = {1, 0, 0};  // rows 0 and 1 equal
  const Vec rhs = {1, 2, 3, 4, 5, 6};
  Vec x(6);
  optkern::TridiagonalSystems<double> s;
  s.batch = 2;
  s.n = 3;
  s.lower = lower.data();
  s.diag = diag.data();
  s.upper = upper.data();
  s.rhs = rhs.data();
  s.rhs_stride = 3;
  index_t first = -7;
  CHECK(optkern::tridiagonal_solve(s, x.data(), 0, &first) == 2);
  CHECK(first == 0 && std::isnan(x[0]) && std::isnan(x[5]));
}

void test_bad_arguments_name_themselves() {
  const Vec x = {1, 2, 3};
  Vec y(3);
  const double negative = -1.0, nan = std::numeric_limits<double>::quiet_NaN(), lam = 1.0;
  index_t nit;
  double change;
  using optkern_test::throws_invalid_argument;
  CHECK(throws_invalid_argument([&] { optkern::tv_denoise<double>(1, 3, x.data(), &negative, 0, y.data()); }, "lam:"));
  CHECK(throws_invalid_argument([&] { optkern::tv_denoise<double>(1, 3, x.data(), &nan, 0, y.data()); }, "lam:"));
  CHECK(throws_invalid_argument([&] { optkern::tv_denoise_irls<double>(1, 3, x.data(), &lam, 0, 0.0, 5, y.data(), &nit, &change); }, "tol:"));
  CHECK(throws_invalid_argument([&] { optkern::tv_denoise_irls<double>(1, 3, x.data(), &lam, 0, 1e-3, 0, y.data(), &nit, &change); }, "max_iter:"));
  CHECK(throws_invalid_argument([&] { optkern::tv_denoise_vjp<double>(1, 3, x.data(), x.data(), -1.0, y.data(), &change); }, "rtol:"));
  CHECK(throws_invalid_argument([&] { optkern::tv_denoise<double>(1, 3, x.data(), &lam, 0, const_cast<double*>(x.data())); }, "y:"));
}

}  // namespace

int main() {
  test_taut_string_certificate_and_condat_agree();
  test_condat_budget_reports_running_out();
  test_condat_rate_gives_up_early_and_ties_merge();
  test_non_finite_signals_throw();
  test_condat_and_the_taut_string_agree_with_and_without_offsets();
  test_weighted_condat_agrees_with_the_weighted_taut_string();
  test_edges();
  test_overflowing_sums_are_rescaled();
  test_float_batch_and_per_signal_lambda();
  test_irls_approaches_exact();
  test_vjp_averages_segments();
  test_tridiagonal_against_dense();
  test_partition_method_matches_thomas();
  test_tridiagonal_singular_and_shared_operands();
  test_bad_arguments_name_themselves();
  return optkern_test::failures() == 0 ? 0 : 1;
}
