// The float instantiations of the entry points whose tests run in double: Sinkhorn (both
// methods, both thread layouts) and its backward, TV IRLS and its backward, and the batched
// tridiagonal solve, each against the double result on the same (float-representable) input.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <tuple>
#include <vector>

#include "check.hpp"
#include "optkern/ot.hpp"
#include "optkern/tridiagonal.hpp"
#include "optkern/tv.hpp"

using optkern::index_t;

namespace {

template <class T>
std::vector<T> cast(const std::vector<double>& x) {
  return std::vector<T>(x.begin(), x.end());
}

template <class T>
double max_rel_diff(const std::vector<T>& got, const std::vector<double>& want) {
  double scale = 0, diff = 0;
  for (std::size_t k = 0; k < want.size(); ++k) {
    scale = std::max(scale, std::abs(want[k]));
    diff = std::max(diff, std::abs(double(got[k]) - want[k]));
  }
  return diff / std::max(scale, 1e-300);
}

// Rounds every entry to float, so that both precisions solve the same problem.
std::vector<double> random_floats(std::size_t size, std::mt19937& gen, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(size);
  for (double& x : v) x = double(float(u(gen)));
  return v;
}

template <class T>
struct Sinkhorn {
  std::vector<T> plan, f, g;
  std::vector<optkern::SinkhornStatus> status;
};

template <class T>
Sinkhorn<T> sinkhorn(index_t batch, index_t m, index_t n, const std::vector<double>& M,
                     const std::vector<double>& a, const std::vector<double>& b,
                     optkern::SinkhornMethod method, int threads) {
  const std::vector<T> Mt = cast<T>(M), at = cast<T>(a), bt = cast<T>(b);
  // One cost per problem; a and b shared by the batch (stride 0).
  const optkern::SinkhornProblem<T> p{batch, m, n, Mt.data(), m * n, at.data(), 0, bt.data(), 0};
  const optkern::SinkhornOptions o{0.1, 1e-6, 10000, /*check_every=*/10, method, threads};
  Sinkhorn<T> s{std::vector<T>(M.size()), std::vector<T>(static_cast<std::size_t>(batch * m)),
                std::vector<T>(static_cast<std::size_t>(batch * n)),
                std::vector<optkern::SinkhornStatus>(static_cast<std::size_t>(batch))};
  optkern::sinkhorn<T>(p, o, {s.plan.data(), s.f.data(), s.g.data(), s.status.data()});
  return s;
}

void test_sinkhorn_float() {
  std::mt19937 gen(29);
  for (auto [batch, size] : {std::pair<index_t, index_t>{1, 520}, {3, 40}}) {
    const std::vector<double> M = random_floats(static_cast<std::size_t>(batch * size * size), gen, 0, 1);
    const std::vector<double> a(static_cast<std::size_t>(size), 1.0 / 512), b = a;  // exact in float
    for (auto method : {optkern::SinkhornMethod::plain, optkern::SinkhornMethod::log}) {
      const auto s64 = sinkhorn<double>(batch, size, size, M, a, b, method, 2);
      const auto s32 = sinkhorn<float>(batch, size, size, M, a, b, method, 2);
      for (const auto& st : s32.status) CHECK(st.converged && st.method == method);
      CHECK(max_rel_diff(s32.plan, s64.plan) < 1e-4);
      CHECK(max_rel_diff(s32.f, s64.f) < 1e-4);
      CHECK(std::abs(s32.status[0].value - s64.status[0].value) <
            1e-5 * std::abs(s64.status[0].value));
    }
  }

  // The backward in float against double on the same plan.
  const index_t m = 30, n = 20;
  const std::vector<double> M = random_floats(static_cast<std::size_t>(m * n), gen, 0, 1);
  const std::vector<double> a(static_cast<std::size_t>(m), 1.0 / 30), b(static_cast<std::size_t>(n), 1.0 / 20);
  const auto s = sinkhorn<double>(1, m, n, M, a, b, optkern::SinkhornMethod::log, 1);
  std::vector<double> P(s.plan.size());
  for (std::size_t k = 0; k < P.size(); ++k) P[k] = double(float(s.plan[k]));
  const std::vector<double> W = random_floats(P.size(), gen, -1, 1);
  auto vjp = [&](auto zero) {  // (grad_M, grad_a, grad_b) in precision T
    using T = decltype(zero);
    const std::vector<T> Pt = cast<T>(P), Wt = cast<T>(W);
    std::vector<T> gM(P.size()), ga(static_cast<std::size_t>(m)), gb(static_cast<std::size_t>(n));
    optkern::SinkhornVjpStatus status;
    optkern::sinkhorn_vjp<T>(1, m, n, Pt.data(), Wt.data(), 0.1, gM.data(), ga.data(), gb.data(),
                             &status, 2);
    CHECK(status == optkern::SinkhornVjpStatus::ok);
    return std::make_tuple(gM, ga, gb);
  };
  const auto [gM, ga, gb] = vjp(0.0);
  const auto [gMf, gaf, gbf] = vjp(0.0f);
  CHECK(max_rel_diff(gMf, gM) < 1e-4);
  CHECK(max_rel_diff(gaf, ga) < 1e-4);
  CHECK(max_rel_diff(gbf, gb) < 1e-4);
}

void test_tv_float() {
  std::mt19937 gen(31);
  const index_t batch = 5, n = 300;
  const std::vector<double> x = random_floats(static_cast<std::size_t>(batch * n), gen, -1, 1);
  const std::vector<float> xf = cast<float>(x);
  const double lam = 0.5;
  std::vector<double> y(x.size()), change(batch);
  std::vector<float> yf(x.size());
  std::vector<index_t> nit(batch), nitf(batch);
  optkern::tv_denoise_irls<double>(batch, n, x.data(), &lam, 0, 1e-300, 30, y.data(), nit.data(),
                                   change.data(), 2);
  optkern::tv_denoise_irls<float>(batch, n, xf.data(), &lam, 0, 1e-300, 30, yf.data(),
                                  nitf.data(), change.data(), 2);
  CHECK(nit == nitf && nit[0] == 30);
  CHECK(max_rel_diff(yf, y) < 1e-5);  // computed in double, rounded once

  // The backward: exact solutions, then the segment means, in each precision.
  const std::vector<double> gy = random_floats(x.size(), gen, -1, 1);
  auto backward = [&](auto zero) {  // (y, grad_x, grad_lam) in precision T
    using T = decltype(zero);
    const std::vector<T> xt = cast<T>(x), gyt = cast<T>(gy);
    std::vector<T> yt(x.size()), gx(x.size());
    std::vector<double> gl(static_cast<std::size_t>(batch));
    optkern::tv_denoise<T>(batch, n, xt.data(), &lam, 0, yt.data());
    optkern::tv_denoise_vjp<T>(batch, n, yt.data(), gyt.data(), 1e-5, gx.data(), gl.data(), 2);
    return std::make_tuple(yt, gx, gl);
  };
  const auto [ye, gx, gl] = backward(0.0);
  const auto [yef, gxf, glf] = backward(0.0f);
  CHECK(max_rel_diff(yef, ye) < 1e-5);
  CHECK(max_rel_diff(gxf, gx) < 1e-5);
  CHECK(max_rel_diff(glf, gl) < 1e-4);
}

void test_tridiagonal_float() {
  std::mt19937 gen(37);
  const index_t batch = 4, n = 100;
  const std::vector<double> lower = random_floats(static_cast<std::size_t>(batch * n), gen, -1, 1);
  const std::vector<double> upper = random_floats(static_cast<std::size_t>(batch * n), gen, -1, 1);
  const std::vector<double> rhs = random_floats(static_cast<std::size_t>(batch * n), gen, -1, 1);
  std::vector<double> diag = random_floats(static_cast<std::size_t>(batch * n), gen, 2.5, 3);  // dominant
  auto solve = [&](auto zero) {
    using T = decltype(zero);
    const std::vector<T> lo = cast<T>(lower), di = cast<T>(diag), up = cast<T>(upper),
                         r = cast<T>(rhs);
    optkern::TridiagonalSystems<T> s;
    s.batch = batch;
    s.n = n;
    s.lower = lo.data();
    s.diag = di.data();
    s.upper = up.data();
    s.rhs = r.data();
    s.lower_stride = s.diag_stride = s.upper_stride = s.rhs_stride = n;
    std::vector<T> x(static_cast<std::size_t>(batch * n));
    CHECK(optkern::tridiagonal_solve<T>(s, x.data(), 2) == 0);
    return x;
  };
  const std::vector<double> x = solve(0.0);
  const std::vector<float> xf = solve(0.0f);
  CHECK(max_rel_diff(xf, x) < 1e-6);
  // The residual of the double solve.
  double worst = 0;
  for (index_t b = 0; b < batch; ++b)
    for (index_t i = 0; i < n; ++i) {
      const std::size_t k = std::size_t(b * n + i);
      double r = diag[k] * x[k] - rhs[k];
      if (i > 0) r += lower[k] * x[k - 1];
      if (i + 1 < n) r += upper[k] * x[k + 1];
      worst = std::max(worst, std::abs(r));
    }
  CHECK(worst < 1e-14);
}

}  // namespace

int main() {
  test_sinkhorn_float();
  test_tv_float();
  test_tridiagonal_float();
  if (optkern_test::failures() == 0) std::printf("test_float_entry_points: all checks passed\n");
  return optkern_test::failures();
}
