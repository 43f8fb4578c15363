// optkern::givens against brute force: the sort-and-sweep angle search against evaluating every
// breakpoint, the descent's first steps against a full re-scoring of all pairs, elimination's
// exactness, apply_sequence against dense products, and the parameter checks.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "check.hpp"
#include "optkern/givens.hpp"
#include "random_matrices.hpp"

using optkern::index_t;
using optkern_test::random_orthogonal;
namespace og = optkern::givens;

namespace {

const double kPi = 3.14159265358979323846;

// L1 norm of the block (a, b) rotated by theta (columns turned counter-clockwise).
double rotated_norm(const std::vector<double>& a, const std::vector<double>& b, double theta) {
  const double c = std::cos(theta), s = std::sin(theta);
  double sum = 0;
  for (std::size_t k = 0; k < a.size(); ++k)
    sum += std::fabs(c * a[k] - s * b[k]) + std::fabs(s * a[k] + c * b[k]);
  return sum;
}

// Every axis transition in (-pi/4, pi/4], evaluated directly: O(d^2).
og::BlockRotation brute_force(const std::vector<double>& a, const std::vector<double>& b) {
  double best = std::numeric_limits<double>::infinity(), best_theta = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    if (a[k] == 0 && b[k] == 0) continue;
    double theta = std::fmod(-std::atan2(b[k], a[k]), kPi / 2);
    if (theta <= -kPi / 4) theta += kPi / 2;
    if (theta > kPi / 4) theta -= kPi / 2;
    const double g = rotated_norm(a, b, theta);
    if (g < best || (g == best && theta < best_theta)) {
      best = g;
      best_theta = theta;
    }
  }
  og::BlockRotation r;
  r.decrease = rotated_norm(a, b, 0) - best;
  r.tangent = std::tan(best_theta);
  return r;
}

void test_block_search_matches_brute_force() {
  std::mt19937 gen(7);
  std::normal_distribution<double> normal;
  std::uniform_int_distribution<int> coin(0, 3);
  for (index_t d : {1, 2, 3, 5, 17, 64, 200}) {
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<double> a(static_cast<std::size_t>(d)), b(static_cast<std::size_t>(d));
      for (index_t k = 0; k < d; ++k) {
        a[std::size_t(k)] = normal(gen);
        b[std::size_t(k)] = normal(gen);
        // zeros, exact ties (|a| == |b|) and repeated columns
        const int kind = coin(gen);
        if (kind == 0) a[std::size_t(k)] = 0;
        if (kind == 1 && k > 0) {
          a[std::size_t(k)] = a[std::size_t(k - 1)];
          b[std::size_t(k)] = b[std::size_t(k - 1)];
        }
        if (kind == 2) b[std::size_t(k)] = -a[std::size_t(k)];
      }
      const og::BlockRotation fast = og::best_l1_rotation(a.data(), b.data(), d);
      const og::BlockRotation slow = brute_force(a, b);
      const double scale = rotated_norm(a, b, 0);
      CHECK(std::fabs(fast.decrease - slow.decrease) <= 1e-12 * scale);
      if (slow.decrease > 1e-9 * scale) CHECK(std::fabs(fast.tangent - slow.tangent) <= 1e-9);
    }
  }
  // An all-zero block and a block on the axes have nothing to gain.
  std::vector<double> z(5, 0.0), e(5, 0.0);
  e[2] = 1.0;
  CHECK(og::best_l1_rotation(z.data(), z.data(), 5).decrease == 0);
  CHECK(og::best_l1_rotation(e.data(), z.data(), 5).decrease == 0);
  // A 45 degree rotation of the identity block is undone exactly: decrease 2 sqrt(2) - 2.
  const double h = std::sqrt(0.5);
  std::vector<double> a = {h, -h}, b = {h, h};
  const og::BlockRotation r = og::best_l1_rotation(a.data(), b.data(), 2);
  CHECK(std::fabs(r.decrease - (2 * std::sqrt(2.0) - 2)) < 1e-14);
  CHECK(std::fabs(std::atan(r.tangent) - kPi / 4) < 1e-14 ||
        std::fabs(std::atan(r.tangent) + kPi / 4) < 1e-14);
}

// The descent against re-scoring every pair by brute force at every step.
void test_descent_matches_full_rescoring() {
  std::mt19937 gen(11);
  const index_t d = 12, steps = 40;
  std::vector<double> u = random_orthogonal(d, gen);
  for (int threads : {1, 2}) {
    og::L1Descent<double> descent(u.data(), d, threads);
    std::vector<index_t> fi(steps), fj(steps);
    std::vector<double> th(steps), sc(steps);
    const index_t taken = descent.run(steps, {fi.data(), fj.data(), th.data(), sc.data()});
    CHECK(taken == steps);
    std::vector<double> v = u;
    for (index_t k = 0; k < taken; ++k) {
      double best = -1, best_t = 0;
      index_t bi = -1, bj = -1;
      for (index_t p = 0; p < d; ++p)
        for (index_t q = p + 1; q < d; ++q) {
          std::vector<double> a(v.begin() + p * d, v.begin() + (p + 1) * d);
          std::vector<double> b(v.begin() + q * d, v.begin() + (q + 1) * d);
          const og::BlockRotation r = brute_force(a, b);
          if (r.decrease > best) {
            best = r.decrease;
            best_t = r.tangent;
            bi = p;
            bj = q;
          }
        }
      CHECK(fi[std::size_t(k)] == bi && fj[std::size_t(k)] == bj);
      CHECK(std::fabs(th[std::size_t(k)] - std::atan(best_t)) < 1e-10);
      CHECK(std::fabs(sc[std::size_t(k)] - best) < 1e-12 * d);
      const double c = std::cos(th[std::size_t(k)]), s = std::sin(th[std::size_t(k)]);
      for (index_t col = 0; col < d; ++col) {
        const double a = v[std::size_t(bi * d + col)], b = v[std::size_t(bj * d + col)];
        v[std::size_t(bi * d + col)] = c * a - s * b;
        v[std::size_t(bj * d + col)] = s * a + c * b;
      }
    }
    // The L1 norm decreased by the recorded amounts.
    double start = 0, total = 0;
    for (double x : u) start += std::fabs(x);
    for (double x : sc) total += x;
    CHECK(std::fabs(start - total - descent.l1_norm()) < 1e-10);
  }
}

// The threaded descent takes exactly the single-threaded steps (every pair's score is computed
// the same way whichever thread computes it), over several run() calls.
void test_threads_give_the_same_trajectory() {
  std::mt19937 gen(13);
  const index_t d = 96, steps = 150;
  const std::vector<double> u = random_orthogonal(d, gen);
  std::vector<index_t> ref_i(steps), ref_j(steps);
  std::vector<double> ref_t(steps), ref_s(steps);
  og::L1Descent<double> one(u.data(), d, 1);
  CHECK(one.threads() == 1);
  CHECK(one.run(steps, {ref_i.data(), ref_j.data(), ref_t.data(), ref_s.data()}) == steps);
  for (int threads : {2, 3, 4}) {
    og::L1Descent<double> many(u.data(), d, threads);
    CHECK(many.threads() == threads);
    std::vector<index_t> fi(steps), fj(steps);
    std::vector<double> th(steps), sc(steps);
    index_t done = 0;
    for (index_t chunk : {1, 7, 50, 1000}) {
      const index_t n = std::min(chunk, steps - done);
      done += many.run(n, {fi.data() + done, fj.data() + done, th.data() + done, sc.data() + done});
    }
    CHECK(done == steps);
    CHECK(fi == ref_i && fj == ref_j && th == ref_t && sc == ref_s);
    const double* a = one.matrix();
    const double* b = many.matrix();
    CHECK(std::equal(a, a + d * d, b));
  }
}

void test_elimination_is_exact() {
  std::mt19937 gen(3);
  const index_t d = 9, n = d * (d - 1) / 2;
  std::vector<double> u = random_orthogonal(d, gen);
  og::Elimination<double> elim(u.data(), d);
  std::vector<index_t> fi(n + 5), fj(n + 5);
  std::vector<double> th(n + 5), sc(n + 5), cs(n + 5), sn(n + 5);
  const index_t taken = elim.run(n + 5, {fi.data(), fj.data(), th.data(), sc.data()});
  CHECK(taken == n);
  CHECK(elim.converged());
  // G_1 ... G_N diag(1, ..., 1, +-1) == U
  for (index_t k = 0; k < n; ++k) {
    cs[std::size_t(k)] = std::cos(th[std::size_t(k)]);
    sn[std::size_t(k)] = std::sin(th[std::size_t(k)]);
  }
  std::vector<double> x(std::size_t(d * d), 0.0);
  for (index_t k = 0; k < d; ++k) x[std::size_t(k * d + k)] = 1;
  x[std::size_t(d * d - 1)] = elim.matrix()[d * d - 1];
  og::apply_sequence<double>(n, fi.data(), fj.data(), cs.data(), sn.data(), x.data(), 1, d, d,
                             false, 1);
  CHECK(optkern_test::max_abs_diff(x, u) < 1e-13);
}

void test_apply_transpose_inverts() {
  std::mt19937 gen(5);
  std::uniform_int_distribution<index_t> row(0, 6);
  std::uniform_real_distribution<double> angle(-3, 3);
  const index_t d = 7, n = 50, cols = 300;
  std::vector<index_t> fi, fj;
  std::vector<double> cs, sn;
  while (index_t(fi.size()) < n) {
    index_t a = row(gen), b = row(gen);
    if (a == b) continue;
    const double t = angle(gen);
    fi.push_back(std::min(a, b));
    fj.push_back(std::max(a, b));
    cs.push_back(std::cos(t));
    sn.push_back(std::sin(t));
  }
  std::vector<double> x(std::size_t(2 * d * cols));
  for (auto& v : x) v = angle(gen);
  const std::vector<double> x0 = x;
  og::apply_sequence<double>(n, fi.data(), fj.data(), cs.data(), sn.data(), x.data(), 2, d, cols,
                             false, 2);
  og::apply_sequence<double>(n, fi.data(), fj.data(), cs.data(), sn.data(), x.data(), 2, d, cols,
                             true, 2);
  CHECK(optkern_test::max_abs_diff(x, x0) < 1e-12);
}

void test_bad_parameters() {
  std::vector<double> u = {1.0};
  CHECK(optkern_test::throws_invalid_argument([&] { og::L1Descent<double>(u.data(), 1); }, "d:"));
  CHECK(optkern_test::throws_invalid_argument([&] { og::Elimination<double>(u.data(), 1); },
                                              "d:"));
  std::vector<double> eye = {1, 0, 0, 1};
  og::L1Descent<double> descent(eye.data(), 2);
  CHECK(optkern_test::throws_invalid_argument([&] { descent.run(-1, {}); }, "max_steps:"));
  index_t i = 1, j = 0;
  double c = 1, s = 0;
  CHECK(optkern_test::throws_invalid_argument(
      [&] { og::apply_sequence<double>(1, &i, &j, &c, &s, eye.data(), 1, 2, 2, false); }, "i:"));
  // The identity has nothing to gain: zero steps, converged.
  std::vector<index_t> fi(3), fj(3);
  std::vector<double> th(3), sc(3);
  CHECK(descent.run(3, {fi.data(), fj.data(), th.data(), sc.data()}) == 0);
  CHECK(descent.converged());
}

}  // namespace

int main() {
  test_block_search_matches_brute_force();
  test_descent_matches_full_rescoring();
  test_threads_give_the_same_trajectory();
  test_elimination_is_exact();
  test_apply_transpose_inverts();
  test_bad_parameters();
  return optkern_test::failures() == 0 ? 0 : 1;
}
