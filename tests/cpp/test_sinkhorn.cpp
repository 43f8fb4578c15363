// optkern::sinkhorn and optkern::sinkhorn_vjp through the C++ API: marginals, agreement of
// the two methods and of the thread layouts, shared operands, zero weights, the backward's
// structure, singular systems and bad arguments.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "check.hpp"
#include "optkern/ot.hpp"
#include "optkern/ot/sinkhorn_step.hpp"

using optkern::index_t;
using optkern::SinkhornMethod;
namespace step = optkern::detail::sinkhorn_step;

struct Solved {
  std::vector<double> plan, f, g;
  std::vector<optkern::SinkhornStatus> status;
};

Solved solve(index_t batch, index_t m, index_t n, const std::vector<double>& M, index_t M_stride,
             const std::vector<double>& a, const std::vector<double>& b, double reg,
             SinkhornMethod method, int threads, double tol = 1e-12, int max_iter = 10000) {
  // A marginal of one problem's size is shared by the batch (stride 0).
  const optkern::SinkhornProblem<double> p{batch,    m, n, M.data(), M_stride, a.data(),
                                           index_t(a.size()) == m ? 0 : m,  b.data(),
                                           index_t(b.size()) == n ? 0 : n};
  const optkern::SinkhornOptions o{reg, tol, max_iter, /*check_every=*/10, method, threads};
  Solved s;
  s.plan.resize(std::size_t(batch * m * n));
  s.f.resize(std::size_t(batch * m));
  s.g.resize(std::size_t(batch * n));
  s.status.resize(std::size_t(batch));
  optkern::SinkhornOutput<double> out;
  out.plan = s.plan.data();
  out.f = s.f.data();
  out.g = s.g.data();
  out.status = s.status.data();
  optkern::sinkhorn<double>(p, o, out);
  return s;
}

double max_marginal_error(const double* P, index_t m, index_t n, const double* a,
                          const double* b) {
  double err = 0;
  for (index_t i = 0; i < m; ++i) {
    double s = 0;
    for (index_t j = 0; j < n; ++j) s += P[i * n + j];
    err = std::max(err, std::abs(s - a[i]));
  }
  for (index_t j = 0; j < n; ++j) {
    double s = 0;
    for (index_t i = 0; i < m; ++i) s += P[i * n + j];
    err = std::max(err, std::abs(s - b[j]));
  }
  return err;
}

double max_diff(const std::vector<double>& x, const std::vector<double>& y) {
  double d = 0;
  for (std::size_t i = 0; i < x.size(); ++i) d = std::max(d, std::abs(x[i] - y[i]));
  return d;
}

int main() {
  std::mt19937 gen(7);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const index_t m = 150, n = 130;
  std::vector<double> M(static_cast<std::size_t>(m * n)), a(static_cast<std::size_t>(m)),
      b(static_cast<std::size_t>(n));
  for (auto& x : M) x = uniform(gen);
  double sa = 0, sb = 0;
  for (auto& x : a) sa += (x = 0.1 + uniform(gen));
  for (auto& x : b) sb += (x = 0.1 + uniform(gen));
  for (auto& x : a) x /= sa;
  for (auto& x : b) x /= sb;

  // Both methods, one and two threads.
  const Solved ref = solve(1, m, n, M, 0, a, b, 0.05, SinkhornMethod::log, 1);
  CHECK(ref.status[0].converged);
  CHECK(max_marginal_error(ref.plan.data(), m, n, a.data(), b.data()) <= 1e-12);
  for (SinkhornMethod method : {SinkhornMethod::plain, SinkhornMethod::log,
                                SinkhornMethod::automatic})
    for (int threads : {1, 2}) {
      const Solved s = solve(1, m, n, M, 0, a, b, 0.05, method, threads);
      CHECK(s.status[0].converged);
      CHECK(max_diff(s.plan, ref.plan) <= 1e-12);
      CHECK(max_diff(s.f, ref.f) <= 1e-9);
      CHECK(std::abs(s.status[0].value - ref.status[0].value) <= 1e-12);
    }
  // A problem large enough (m n >= 512^2) for two threads to share it: the same result.
  {
    const index_t big = 520;
    std::vector<double> Mb(static_cast<std::size_t>(big * big)), ub(static_cast<std::size_t>(big),
                                                                     1.0 / double(big));
    for (auto& x : Mb) x = uniform(gen);
    for (SinkhornMethod method : {SinkhornMethod::plain, SinkhornMethod::log}) {
      const Solved one = solve(1, big, big, Mb, 0, ub, ub, 0.1, method, 1);
      const Solved two = solve(1, big, big, Mb, 0, ub, ub, 0.1, method, 2);
      CHECK(one.status[0].converged && two.status[0].converged);
      CHECK(max_diff(one.plan, two.plan) <= 1e-14);
    }
  }
  CHECK(solve(1, m, n, M, 0, a, b, 0.05, SinkhornMethod::automatic, 1).status[0].method ==
        SinkhornMethod::plain);
  CHECK(solve(1, m, n, M, 0, a, b, 1e-3, SinkhornMethod::automatic, 1).status[0].method ==
        SinkhornMethod::log);

  // A shared cost (stride 0) with per-item column marginals: each item as if alone.
  {
    const index_t batch = 3;
    std::vector<double> bb(std::size_t(batch * n));
    for (index_t k = 0; k < batch; ++k) {
      double s = 0;
      for (index_t j = 0; j < n; ++j) s += (bb[std::size_t(k * n + j)] = 0.1 + uniform(gen));
      for (index_t j = 0; j < n; ++j) bb[std::size_t(k * n + j)] /= s;
    }
    const Solved all = solve(batch, m, n, M, 0, a, bb, 0.1, SinkhornMethod::automatic, 2);
    for (index_t k = 0; k < batch; ++k) {
      std::vector<double> bk(bb.begin() + k * n, bb.begin() + (k + 1) * n);
      const Solved one = solve(1, m, n, M, 0, a, bk, 0.1, SinkhornMethod::automatic, 1);
      std::vector<double> pk(all.plan.begin() + k * m * n, all.plan.begin() + (k + 1) * m * n);
      CHECK(max_diff(pk, one.plan) <= 1e-13);
    }
  }

  // A tiny reg: finite, in the log domain even when plain is asked for.
  {
    const Solved s = solve(1, m, n, M, 0, a, b, 1e-4, SinkhornMethod::plain, 2, 1e-9, 300);
    bool finite = true;
    for (double x : s.plan) finite = finite && std::isfinite(x);
    for (double x : s.f) finite = finite && std::isfinite(x);
    CHECK(finite);
  }

  // Zero weights: zero rows in the plan, finite potentials.
  {
    std::vector<double> az = a;
    az[3] = 0;
    double s = 0;
    for (double x : az) s += x;
    for (double& x : az) x /= s;
    const Solved z = solve(1, m, n, M, 0, az, b, 0.05, SinkhornMethod::log, 2);
    CHECK(z.status[0].converged);
    bool zero = true;
    for (index_t j = 0; j < n; ++j) zero = zero && z.plan[std::size_t(3 * n + j)] == 0;
    CHECK(zero);
    CHECK(std::isfinite(z.f[3]));
  }

  // Backward: grad_M has zero row and column sums; two threads agree with one.
  {
    const auto mn = static_cast<std::size_t>(m * n);
    std::vector<double> W(mn), gM(mn), gM2(mn), ga(static_cast<std::size_t>(m)),
        gb(static_cast<std::size_t>(n));
    for (auto& x : W) x = uniform(gen) - 0.5;
    optkern::SinkhornVjpStatus st;
    optkern::sinkhorn_vjp<double>(1, m, n, ref.plan.data(), W.data(), 0.05, gM.data(), ga.data(),
                                  gb.data(), &st, 1);
    CHECK(st == optkern::SinkhornVjpStatus::ok);
    double worst = 0, scale = 0;
    for (index_t i = 0; i < m; ++i) {
      double s = 0;
      for (index_t j = 0; j < n; ++j) {
        s += gM[std::size_t(i * n + j)];
        scale = std::max(scale, std::abs(gM[std::size_t(i * n + j)]));
      }
      worst = std::max(worst, std::abs(s));
    }
    for (index_t j = 0; j < n; ++j) {
      double s = 0;
      for (index_t i = 0; i < m; ++i) s += gM[std::size_t(i * n + j)];
      worst = std::max(worst, std::abs(s));
    }
    CHECK(worst <= 1e-12 * scale);
    optkern::sinkhorn_vjp<double>(1, m, n, ref.plan.data(), W.data(), 0.05, gM2.data(),
                                  ga.data(), gb.data(), &st, 2);
    CHECK(max_diff(gM, gM2) <= 1e-12 * scale);
  }

  // A disconnected support is reported, never patched.
  {
    const std::vector<double> P = {0.25, 0, 0, 0.25, 0, 0.25, 0.25, 0};  // 2 x 4, 2 blocks
    std::vector<double> W(8, 1.0), gM(8), ga(2), gb(4);
    optkern::SinkhornVjpStatus st;
    optkern::sinkhorn_vjp<double>(1, 2, 4, P.data(), W.data(), 0.1, gM.data(), ga.data(),
                                  gb.data(), &st, 1);
    CHECK(st == optkern::SinkhornVjpStatus::singular);
    CHECK(std::isnan(gM[0]));
  }

  // Bad arguments name themselves.
  {
    const optkern::SinkhornProblem<double> p{1, m, n, M.data(), 0, a.data(), 0, b.data(), 0};
    std::vector<double> plan(M.size()), f(a.size()), g(b.size());
    optkern::SinkhornStatus status;
    optkern::SinkhornOutput<double> out{plan.data(), f.data(), g.data(), &status};
    optkern::SinkhornOptions o;
    auto run = [&](const optkern::SinkhornProblem<double>& pp, const optkern::SinkhornOptions& oo) {
      return [&, pp, oo] { optkern::sinkhorn<double>(pp, oo, out); };
    };
    o.reg = 0;
    CHECK(optkern_test::throws_invalid_argument(run(p, o), "reg:"));
    o.reg = 0.1;
    o.max_iter = 0;
    CHECK(optkern_test::throws_invalid_argument(run(p, o), "max_iter:"));
    o.max_iter = 10;
    std::vector<double> negative = a;
    negative[0] = -1;
    auto pn = p;
    pn.a = negative.data();
    CHECK(optkern_test::throws_invalid_argument(run(pn, o), "a:"));
    std::vector<double> heavy = b;
    heavy[0] += 0.5;
    auto ph = p;
    ph.b = heavy.data();
    CHECK(optkern_test::throws_invalid_argument(run(ph, o), "b:"));

    // The mass tolerance is the shared one (optkern/ot/sinkhorn_step.hpp), on both sides.
    for (double rel : {0.5, 2.0}) {
      std::vector<double> off = b;
      for (auto& x : off) x *= 1 + rel * step::kMassRtol;
      auto po = p;
      po.b = off.data();
      if (rel < 1) {
        optkern::sinkhorn<double>(po, o, out);
        CHECK(status.n_iter > 0);
      } else {
        CHECK(optkern_test::throws_invalid_argument(run(po, o), "b:"));
      }
    }
  }

  // The shared per-problem steps (optkern/ot/sinkhorn_step.hpp).
  {
    const double limit = step::plain_range_limit<double>();
    CHECK(step::plain_range_limit<float>() < limit);
    CHECK(step::choose_method<double>(SinkhornMethod::automatic, limit) == SinkhornMethod::plain);
    CHECK(step::choose_method<double>(SinkhornMethod::automatic, limit * (1 + 1e-15)) ==
          SinkhornMethod::log);
    CHECK(step::choose_method<double>(SinkhornMethod::plain, 1e9) == SinkhornMethod::plain);
    CHECK(!step::needs_shifts(SinkhornMethod::log));
    CHECK(step::masses_agree(1.0, 1.0 + 0.5 * step::kMassRtol));
    CHECK(!step::masses_agree(1.0, 1.0 + 2 * step::kMassRtol));
    CHECK(!step::weight_ok(-1e-300) && step::weight_ok(0.0) && !step::weight_ok(NAN));
    CHECK(step::check_iteration(1e-9, 10, 10) && !step::check_iteration(0, 10, 10) &&
          !step::check_iteration(1e-9, 1, 1) && !step::check_iteration(1e-9, 9, 10));
    // A subnormal weight whose u underflows to 0 breaks the kernel domain down.
    double err = 0;
    bool breakdown = false;
    CHECK(step::plain_row(4.9e-324, 4.0, 1.0, true, &err, &breakdown) == 0.0 && breakdown);
    CHECK(err == 4.0);  // |u_old s - a|: the previous iterate's row sum against its weight
    err = 0;
    breakdown = false;
    CHECK(step::plain_row(0.5, 2.0, 0.3, true, &err, &breakdown) == 0.25 && !breakdown);
    CHECK(std::abs(err - 0.1) < 1e-15);
    CHECK(step::plain_column(0.0, 0.0, &breakdown) == 0.0 && !breakdown);
    // The exact log-sum-exp is computed only for a starved column.
    int exact = 0;
    auto lse = [&] {
      ++exact;
      return 2.0;
    };
    CHECK(step::log_column(1.0, 0.5, 1.0, lse) == 1.5 && exact == 0);
    CHECK(step::log_column(1.0, 0.5, step::kStarvedColumn, lse) == -1.5 && exact == 1);
    CHECK(std::isinf(step::rescued_G(0.0, 1.0, 0.0, 0.0)));
    CHECK(step::rescued_G(1.0, INFINITY, 0.25, -7.0) == -7.0);
    CHECK(step::gauge_shift(3.0, 1.0, 2.0) == 0.5);
  }
  return optkern_test::failures();
}
