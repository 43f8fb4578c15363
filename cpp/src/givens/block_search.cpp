// Bucket, bound, then sort only what can win: the exact best L1 rotation of a 2 x d block
// (see block_search.hpp for the argument).
#include "optkern/givens/block_search.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "column_pass.hpp"
#include "optkern/givens.hpp"
#include "optkern/givens/rotation_math.hpp"

namespace optkern::givens {
namespace {

// Fewer buckets make the bucket pass cheaper, more make the bounds tighter; a quarter of d
// measured best from d = 48 to 1024.
int bucket_count(index_t d) { return int(std::max<index_t>(1, d / 4)); }

constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

BlockSearch::BlockSearch(index_t d) : d_(d), buckets_(bucket_count(d)) {
  require(d >= 1, "d", "expected at least 1 column, got " + std::to_string(d));
  const int nb = buckets_;
  edge_cos_.resize(std::size_t(nb) + 1);
  edge_sin_.resize(std::size_t(nb) + 1);
  for (int e = 0; e <= nb; ++e) {
    // Bucket q holds the tangents with floor((t + 1) nb / 2) = q: its edges are t = -1 + 2q/nb.
    const double t = -1.0 + 2.0 * e / nb;
    edge_cos_[std::size_t(e)] = breakpoint_cos(t);
    edge_sin_[std::size_t(e)] = t * edge_cos_[std::size_t(e)];
  }
  sums_.resize(4 * (std::size_t(nb) + 1));
  prefix_.resize(2 * std::size_t(nb));
  bound_.resize(std::size_t(nb));
  bucket_.resize(std::size_t(d));
  head_.resize(std::size_t(nb) + 1);
  next_.resize(std::size_t(d));
  candidates_.resize(std::size_t(d));
}

template <class T>
BlockRotation BlockSearch::best(const T* a, const T* b) {
  const index_t d = d_;
  const int nb = buckets_;
  double* sums = sums_.data();
  std::fill(sums_.begin(), sums_.end(), 0.0);
  std::fill(head_.begin(), head_.end(), -1);

  // 1. Buckets, their sums and their lists.
  detail::column_pass(a, b, d, nb, bucket_.data(), sums, head_.data(), next_.data());

  // 2. Totals; g at the lower edge of every bucket (U is the smallest); the lower bound of g
  //    inside every bucket.
  double X = 0, Y = 0, abs_y = 0;
  for (int q = 0; q < nb; ++q) {
    X += sums[4 * q];
    Y += sums[4 * q + 1];
    abs_y += sums[4 * q + 3];
  }
  const double l1 = X + abs_y;  // sum of |a_k| + |b_k| = x_k + |y_k|
  const double* cs = edge_cos_.data();
  const double* sn = edge_sin_.data();
  double upper = kInf, px = 0, py = 0;
  for (int q = 0; q < nb; ++q) {
    const double sx = sums[4 * q], sy = sums[4 * q + 1], rho = sums[4 * q + 2];
    prefix_[2 * std::size_t(q)] = px;
    prefix_[2 * std::size_t(q) + 1] = py;
    // At the lower edge, the columns of the buckets before q are the ones included.
    const double A = fma(2.0, py, X - Y), B = fma(2.0, px, -(X + Y));
    upper = std::min(upper, fma(B, sn[q], A * cs[q]));
    // The columns outside bucket q, with fixed signs across it.
    const double Ao = fma(2.0, py, (X - sx) - (Y - sy));
    const double Bo = fma(2.0, px, -((X - sx) + (Y - sy)));
    const double outside = std::min(fma(Bo, sn[q], Ao * cs[q]), fma(Bo, sn[q + 1], Ao * cs[q + 1]));
    bound_[std::size_t(q)] = head_[std::size_t(q)] >= 0 ? outside + rho : kInf;
    px += sx;
    py += sy;
  }
  // The margin covers rounding in the sums and tangents that sit on a bucket edge.
  const double threshold = upper + 64.0 * double(d) * machine_epsilon<double>() * l1;

  // 3. The columns of the buckets that may hold the minimum, sorted by tangent, swept exactly.
  Candidate* c = candidates_.data();
  index_t n = 0;
  for (int q = 0; q < nb; ++q) {
    if (!(bound_[std::size_t(q)] <= threshold)) continue;
    for (int k = head_[std::size_t(q)]; k >= 0; k = next_[std::size_t(k)]) {
      const SectorPoint p = sector_point(double(a[k]), double(b[k]));
      c[n++] = Candidate{p.t, p.x, p.y, q};
    }
  }
  last_exact_ = n;
  std::sort(c, c + n, [](const Candidate& u, const Candidate& v) { return u.t < v.t; });

  double best = kInf, best_t = 0, run_x = 0, run_y = 0;
  for (index_t m = 0; m < n; ++m) {
    if (m == 0 || c[m].bucket != c[m - 1].bucket) run_x = run_y = 0;
    run_x += c[m].x;
    run_y += c[m].y;
    if (m + 1 < n && c[m + 1].t == c[m].t) continue;
    const std::size_t q = std::size_t(c[m].bucket);
    const double g = rotated_l1(X, Y, prefix_[2 * q] + run_x, prefix_[2 * q + 1] + run_y,
                                c[m].t, breakpoint_cos(c[m].t));
    if (g < best) {  // strict: equal minima keep the smaller tangent
      best = g;
      best_t = c[m].t;
    }
  }

  BlockRotation r;
  const double decrease = l1 - best;
  if (n > 0 && decrease > noise_fraction(double(d), machine_epsilon<T>()) * l1) {
    r.decrease = decrease;
    r.tangent = best_t;
  }
  return r;
}

template <class T>
BlockRotation best_l1_rotation(const T* a, const T* b, index_t d) {
  require(d >= 1, "d", "expected at least 1 column, got " + std::to_string(d));
  BlockSearch search(d);
  return search.best(a, b);
}

template BlockRotation BlockSearch::best<float>(const float*, const float*);
template BlockRotation BlockSearch::best<double>(const double*, const double*);
template BlockRotation best_l1_rotation<float>(const float*, const float*, index_t);
template BlockRotation best_l1_rotation<double>(const double*, const double*, index_t);

}  // namespace optkern::givens
