// The lecture notes' majorise-minimise ("IRLS") iteration for the 1-D TV prox of one signal
// (seed-004 section 7.2, eq. 170), with an O(n) tridiagonal solve instead of the notes' dense
// Cholesky:
//
//   u <- x - D^T w,   T w = D x,   T = (1/lam) diag|D u| + D D^T,   (D u)_k = u_k - u_{k+1},
//
// from u = x. T is (n-1) x (n-1) with -1 off the diagonal and d_k = |Du_k|/lam + 2 >= 2 on it:
// symmetric, positive definite and diagonally dominant, so elimination needs no pivoting. The
// Woodbury form never divides by |Du|, so fused neighbours (|Du_k| = 0) are harmless.
#pragma once

#include <cfloat>
#include <cmath>

#include "optkern/common.hpp"
#include "optkern/detail/hd.hpp"

namespace optkern::detail {

struct NeverStop {
  OPTKERN_HD bool operator()() const { return false; }
};

// Runs at most max_iter (>= 1) iterations into y, stopping when the relative change
// max|u_new - u| / max|u_new| is <= tol, or early when stop() (asked before every iteration
// but the first) returns true. u (n), m and r (n - 1 each) are scratch. Returns the number of
// iterations and stores the last relative change in *change.
//
// Per-edge weights (sum_k w_k |u_k - u_{k+1}|) replace lam by w_k in row k of T; a weight of 0
// gives an infinite diagonal (w_k = 0: the edge carries no dual value). `weights` is null for
// one lam, else w_k = weights[k] (lam is then ignored).
template <class Acc, class X, class Y, class W, class Stop = NeverStop, class Wt = const double*>
OPTKERN_HD index_t irls_denoise(index_t n, const X& x, Acc lam, Acc tol, index_t max_iter,
                                const Y& y, const W& u, const W& m, const W& r, Acc* change,
                                Stop stop = {}, Wt weights = nullptr) {
  bool all_zero = lam == Acc(0);
  if (weights) {
    all_zero = true;
    for (index_t k = 0; k + 1 < n; ++k) all_zero = all_zero && Acc(weights[k]) == Acc(0);
  }
  if (n <= 1 || all_zero) {
    for (index_t k = 0; k < n; ++k) y[k] = x[k];
    *change = Acc(0);
    return 0;
  }
  // The prox is positively homogeneous, prox(c x, c lam) = c prox(x, lam), and every step
  // below commutes with a power of two c. A signal near the ends of the range is solved as
  // x * 2^-e (at 1.8e308, x_k - x_{k+1} overflowed into NaN; subnormals lost every digit to
  // rounding); others run unscaled, so their results do not change.
  Acc largest = 0;
  for (index_t k = 0; k < n; ++k) largest = max_of(largest, Acc(std::fabs(Acc(x[k]))));
  Acc scale = 1;
  if (largest > Acc(0x1p500) || (largest > Acc(0) && largest < Acc(0x1p-500))) {
    const int e = ilogb(largest) > -1000 ? ilogb(largest) : -1000;  // 2^-e stays finite
    scale = ldexp(Acc(1), -e);
    lam *= scale;
  }
  const Acc unscale = Acc(1) / scale;  // exact: a power of two
  // 1/lam, kept finite so that |Du| = 0 still gives 0 for a subnormal lam.
  const Acc inv_lam = min_of(Acc(1) / lam, Acc(DBL_MAX));
  auto inv_width = [&](index_t k) {
    if (!weights) return inv_lam;
    const Acc w = Acc(weights[k]) * scale;
    return w > Acc(0) ? min_of(Acc(1) / w, Acc(DBL_MAX)) : Acc(INFINITY);
  };
  for (index_t k = 0; k < n; ++k) u[k] = Acc(x[k]) * scale;
  index_t it = 0;
  Acc rel = Acc(INFINITY);
  while (it < max_iter && !(it > 0 && stop())) {
    ++it;
    // Forward elimination into the inverse pivots m_k and the eliminated right-hand sides
    // r_k of (D x)_k. The pivots d_k - m_{k-1} would chain one division per row; as ratios
    // m_k = p_{k-1} / p_k of the leading minors p_k = d_k p_{k-1} - p_{k-2} (p_{-1} = 1,
    // p_{-2} = 0) the chain is one FMA and the divisions overlap. The minors grow (d_k >= 2
    // makes them increasing), so the ratio restarts at (1, pivot) whenever they pass 2^512.
    Acc p_prev = 0, p_cur = 1, r_k = 0, x_k = Acc(x[0]) * scale, u_k = u[0];
    for (index_t k = 0; k + 1 < n; ++k) {
      const Acc x_next = Acc(x[k + 1]) * scale, u_next = u[k + 1];
      const Acc inv_w = inv_width(k);
      // w_k = 0: the row's dual value is 0 (an infinite diagonal, kept finite here)
      const Acc d = inv_w < Acc(INFINITY) ? std::fabs(u_k - u_next) * inv_w + Acc(2)
                                          : Acc(DBL_MAX);
      Acc p_next = d * p_cur - p_prev, m_k;
      if (p_next < Acc(0x1p512)) {
        m_k = p_cur / p_next;
      } else {  // rare (also catches an overflow)
        const Acc pivot = d - p_prev / p_cur;
        m_k = Acc(1) / pivot;
        p_cur = Acc(1);
        p_next = pivot;
      }
      r_k = (x_k - x_next + r_k) * m_k;
      m[k] = m_k;
      r[k] = r_k;
      p_prev = p_cur;
      p_cur = p_next;
      x_k = x_next;
      u_k = u_next;
    }
    // Back substitution w_k = r_k + m_k w_{k+1}, fused with u_j = x_j - w_j + w_{j-1}
    // (w_{-1} = w_{n-1} = 0) and the size of the change.
    Acc w_next = 0, max_delta = 0, max_u = 0;
    for (index_t k = n - 2; k >= -1; --k) {
      const Acc w = k >= 0 ? r[k] + m[k] * w_next : Acc(0);
      const Acc u_new = Acc(x[k + 1]) * scale - w_next + w;
      max_delta = max_of(max_delta, std::fabs(u_new - u[k + 1]));
      max_u = max_of(max_u, std::fabs(u_new));
      u[k + 1] = u_new;
      w_next = w;
    }
    // Relative to the new iterate, or to the old one where the new one is 0 (the mean of a
    // zero-sum signal): a finite number either way.
    rel = max_delta > Acc(0) ? min_of(max_delta / (max_u > Acc(0) ? max_u : max_delta),
                                      Acc(DBL_MAX))
                             : Acc(0);
    if (rel <= tol) break;
  }
  for (index_t k = 0; k < n; ++k) y[k] = u[k] * unscale;
  *change = rel;
  return it;
}

}  // namespace optkern::detail
