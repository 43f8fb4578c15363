// The Givens baselines that test_givens.cpp leaves out: FrobeniusGreedy against trying every
// pair with its closed-form angle, JacobiEigen against the largest off-diagonal entry and its
// eigen-reconstruction, the float engines against the double ones, and their checks.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "check.hpp"
#include "optkern/givens.hpp"
#include "random_matrices.hpp"

using optkern::index_t;
using optkern_test::random_orthogonal;
namespace og = optkern::givens;

namespace {

// Rows i, j of v (d x d) replaced by G^T v: row_i <- c row_i - s row_j, row_j <- s row_i + c row_j.
void rotate_rows(std::vector<double>& v, index_t d, index_t i, index_t j, double theta) {
  const double c = std::cos(theta), s = std::sin(theta);
  for (index_t k = 0; k < d; ++k) {
    const double a = v[std::size_t(i * d + k)], b = v[std::size_t(j * d + k)];
    v[std::size_t(i * d + k)] = c * a - s * b;
    v[std::size_t(j * d + k)] = s * a + c * b;
  }
}

struct Steps {
  std::vector<index_t> i, j;
  std::vector<double> theta, score;
  explicit Steps(index_t n)
      : i(static_cast<std::size_t>(n)), j(static_cast<std::size_t>(n)),
        theta(static_cast<std::size_t>(n)), score(static_cast<std::size_t>(n)) {}
  og::Trajectory<double> out() { return {i.data(), j.data(), theta.data(), score.data()}; }
};

// Greedy: each step is the pair with the largest trace gain hypot(S, D) - S, angle atan2(D, S).
void test_greedy_matches_trying_every_pair() {
  std::mt19937 gen(17);
  const index_t d = 9, n = 25;
  const std::vector<double> u = random_orthogonal(d, gen);
  og::FrobeniusGreedy<double> greedy(u.data(), d);
  Steps got(n);
  const index_t taken = greedy.run(n, got.out());
  CHECK(taken == n && greedy.steps() == n);
  std::vector<double> v = u;
  for (index_t k = 0; k < taken; ++k) {
    double best = 0, best_theta = 0;
    index_t bi = -1, bj = -1;
    for (index_t i = 0; i < d; ++i)
      for (index_t j = i + 1; j < d; ++j) {
        const double S = v[std::size_t(i * d + i)] + v[std::size_t(j * d + j)];
        const double D = v[std::size_t(i * d + j)] - v[std::size_t(j * d + i)];
        const double gain = std::hypot(S, D) - S;
        if (gain > best * (1 + 1e-9) + 1e-14) {
          best = gain;
          bi = i;
          bj = j;
          best_theta = std::atan2(D, S);
        }
      }
    CHECK(got.i[k] == bi && got.j[k] == bj);
    CHECK(std::abs(got.theta[k] - best_theta) < 1e-9);
    CHECK(std::abs(got.score[k] - 2 * best) < 1e-9);  // the decrease of ||V - I||_F^2
    rotate_rows(v, d, bi, bj, best_theta);
  }
  // The engine's V is the brute force's.
  double gap = 0;
  for (std::size_t k = 0; k < v.size(); ++k) gap = std::max(gap, std::abs(v[k] - greedy.matrix()[k]));
  CHECK(gap < 1e-12);
  // Run to the end: the trace only grows, and it converges.
  Steps rest(10000);
  greedy.run(10000, rest.out());
  CHECK(greedy.converged());
  for (double s : rest.score) CHECK(s >= 0);
}

// Jacobi: each step zeroes the largest |L_pq|; at convergence L = V diag V^T.
void test_jacobi_diagonalises() {
  std::mt19937 gen(19);
  std::normal_distribution<double> normal;
  const index_t d = 8;
  std::vector<double> l(static_cast<std::size_t>(d * d));
  for (index_t p = 0; p < d; ++p)
    for (index_t q = p; q < d; ++q) l[std::size_t(p * d + q)] = l[std::size_t(q * d + p)] = normal(gen);
  og::JacobiEigen<double> jacobi(l.data(), d);
  // The first step: the largest off-diagonal entry, ties to the smallest (p, q).
  double largest = 0;
  index_t lp = -1, lq = -1;
  for (index_t p = 0; p < d; ++p)
    for (index_t q = p + 1; q < d; ++q)
      if (std::abs(l[std::size_t(p * d + q)]) > largest) {
        largest = std::abs(l[std::size_t(p * d + q)]);
        lp = p;
        lq = q;
      }
  Steps first(1);
  CHECK(jacobi.run(1, first.out()) == 1);
  CHECK(first.i[0] == lp && first.j[0] == lq && first.score[0] == largest);
  CHECK(std::abs(first.theta[0]) <= 0.7853981633974483 + 1e-15);
  CHECK(jacobi.matrix()[lp * d + lq] == 0 && jacobi.matrix()[lq * d + lp] == 0);

  const index_t most = 2000;
  Steps rest(most);
  const index_t taken = jacobi.run(most, rest.out());
  CHECK(jacobi.converged() && taken < most);
  // L == G_1 ... G_N diag(L_N) (G_1 ... G_N)^T: apply the sequence to diag(L_N) from the left,
  // then to the transpose of that from the left.
  const index_t n = taken + 1;
  std::vector<index_t> fi(static_cast<std::size_t>(n)), fj(static_cast<std::size_t>(n));
  std::vector<double> cs(static_cast<std::size_t>(n)), sn(static_cast<std::size_t>(n));
  fi[0] = first.i[0];
  fj[0] = first.j[0];
  cs[0] = std::cos(first.theta[0]);
  sn[0] = std::sin(first.theta[0]);
  for (index_t k = 0; k < taken; ++k) {
    fi[std::size_t(k + 1)] = rest.i[static_cast<std::size_t>(k)];
    fj[std::size_t(k + 1)] = rest.j[static_cast<std::size_t>(k)];
    cs[std::size_t(k + 1)] = std::cos(rest.theta[static_cast<std::size_t>(k)]);
    sn[std::size_t(k + 1)] = std::sin(rest.theta[static_cast<std::size_t>(k)]);
  }
  std::vector<double> x(static_cast<std::size_t>(d * d), 0.0);
  for (index_t k = 0; k < d; ++k) x[std::size_t(k * d + k)] = jacobi.matrix()[k * d + k];
  og::apply_sequence<double>(n, fi.data(), fj.data(), cs.data(), sn.data(), x.data(), 1, d, d,
                             false);
  std::vector<double> xt(x.size());
  for (index_t p = 0; p < d; ++p)
    for (index_t q = 0; q < d; ++q) xt[std::size_t(p * d + q)] = x[std::size_t(q * d + p)];
  og::apply_sequence<double>(n, fi.data(), fj.data(), cs.data(), sn.data(), xt.data(), 1, d, d,
                             false);
  CHECK(optkern_test::max_abs_diff(xt, l) < 1e-12);
}

// The float engines take the double engines' steps on the same matrix (far from any tie).
void test_float_engines() {
  std::mt19937 gen(23);
  const index_t d = 12, n = 20;
  const std::vector<double> u = random_orthogonal(d, gen);
  const std::vector<float> uf(u.begin(), u.end());
  auto same_start = [&](auto& e64, auto& e32, const char* what) {
    Steps a(n);
    std::vector<index_t> i(n), j(n);
    std::vector<float> theta(n);
    std::vector<double> score(n);
    const index_t ta = e64.run(n, a.out());
    const index_t tb = e32.run(n, {i.data(), j.data(), theta.data(), score.data()});
    index_t agree = 0;
    while (agree < std::min(ta, tb) && a.i[agree] == i[agree] && a.j[agree] == j[agree] &&
           std::abs(a.theta[agree] - theta[agree]) < 1e-4)
      ++agree;
    if (agree < 5) std::fprintf(stderr, "%s: float agrees for %ld steps\n", what, long(agree));
    CHECK(agree >= 5);
  };
  og::L1Descent<double> l64(u.data(), d);
  og::L1Descent<float> l32(uf.data(), d);
  same_start(l64, l32, "l1");
  og::FrobeniusGreedy<double> g64(u.data(), d);
  og::FrobeniusGreedy<float> g32(uf.data(), d);
  same_start(g64, g32, "greedy");
  og::Elimination<double> e64(u.data(), d);
  og::Elimination<float> e32(uf.data(), d);
  same_start(e64, e32, "elimination");
  std::vector<double> sym(u.size());
  for (index_t p = 0; p < d; ++p)
    for (index_t q = 0; q < d; ++q) sym[p * d + q] = u[p * d + q] + u[q * d + p];
  const std::vector<float> symf(sym.begin(), sym.end());
  og::JacobiEigen<double> j64(sym.data(), d);
  og::JacobiEigen<float> j32(symf.data(), d);
  same_start(j64, j32, "jacobi");

  const og::BlockRotation r64 = og::best_l1_rotation(u.data(), u.data() + d, d);
  const og::BlockRotation r32 = og::best_l1_rotation(uf.data(), uf.data() + d, d);
  CHECK(std::abs(r64.tangent - r32.tangent) < 1e-5 && std::abs(r64.decrease - r32.decrease) < 1e-5);
}

void test_bad_parameters() {
  std::vector<double> one = {1.0};
  using optkern_test::throws_invalid_argument;
  CHECK(throws_invalid_argument([&] { og::FrobeniusGreedy<double>(one.data(), 1); }, "d:"));
  CHECK(throws_invalid_argument([&] { og::JacobiEigen<double>(one.data(), 1); }, "d:"));
  CHECK(throws_invalid_argument([&] { og::best_l1_rotation<double>(one.data(), one.data(), 0); },
                                "d:"));
  std::vector<double> eye = {1, 0, 0, 1};
  og::FrobeniusGreedy<double> greedy(eye.data(), 2);
  og::JacobiEigen<double> jacobi(eye.data(), 2);
  og::Elimination<double> elimination(eye.data(), 2);
  CHECK(throws_invalid_argument([&] { greedy.run(-1, {}); }, "max_steps:"));
  CHECK(throws_invalid_argument([&] { jacobi.run(-1, {}); }, "max_steps:"));
  CHECK(throws_invalid_argument([&] { elimination.run(-1, {}); }, "max_steps:"));
  Steps s(2);
  CHECK(greedy.run(2, s.out()) == 0 && greedy.converged());  // the identity: nothing to gain
  CHECK(jacobi.run(2, s.out()) == 0 && jacobi.converged());  // already diagonal
}

}  // namespace

int main() {
  test_greedy_matches_trying_every_pair();
  test_jacobi_diagonalises();
  test_float_engines();
  test_bad_parameters();
  if (optkern_test::failures() == 0) std::printf("test_givens_baselines: all checks passed\n");
  return optkern_test::failures();
}
