// The lecture notes' majorise-minimise ("IRLS") iteration for the 1-D TV prox of one signal
// (seed-004 section 7.2, eq. 170), with an O(n) tridiagonal solve instead of the notes' dense
// Cholesky:
//
//   u <- x - D^T w,   T w = D x,   T = (1/lam) diag|D u| + D D^T,   (D u)_k = u_k - u_{k+1},
//
// from u = x. T is (n-1) x (n-1) with -1 off the diagonal and d_k = |Du_k|/lam + 2 >= 2 on it:
// symmetric, positive definite and diagonally dominant, so elimination needs no pivoting. The
// Woodbury form never divides by |Du|, so fused neighbours (|Du_k| = 0) are harmless.
//
// Each step is a twisted ("burn at both ends") elimination around a middle row j: rows above
// it are eliminated downwards and rows below it upwards, row j is solved from both, and
// substitution runs outwards. One thread can do both halves (irls_denoise); on the CPU two
// threads do one half each for long signals (cpp/src/tv/irls.cpp).
#pragma once

#include <cfloat>
#include <cmath>

#include "optkern/common.hpp"
#include "optkern/detail/hd.hpp"

namespace optkern::detail {

// What one half of the elimination leaves for the middle row: the inverse pivot and the
// eliminated right-hand side of the row next to it (0, 0 when the half is empty).
template <class Acc>
struct IrlsEdge {
  Acc m = 0, r = 0;
};

// 1/lam, kept finite so that |Du| = 0 still gives 0 for a subnormal lam.
template <class Acc>
OPTKERN_HD inline Acc irls_inverse_lambda(Acc lam) {
  return min_of(Acc(1) / lam, Acc(DBL_MAX));
}

// Eliminates rows 0..j-1 downwards (bottom = false) or rows n-2..j+1 upwards (bottom = true)
// of T w = D x, storing the inverse pivots in m and the eliminated right-hand sides in r.
//
// The inverse pivots m_k = 1 / (d_k - m_{k-1}) would chain one division per row; as ratios
// m_k = p_{k-1} / p_k of the leading minors p_k = d_k p_{k-1} - p_{k-2} the chain is one FMA
// and the divisions overlap. The minors grow (d_k >= 2 makes them increasing), so the ratio
// restarts at (1, pivot) whenever they pass 2^512.
template <class Acc, class X, class W>
OPTKERN_HD IrlsEdge<Acc> irls_eliminate(index_t n, const X& x, Acc inv_lam, const W& u,
                                        const W& m, const W& r, index_t j, bool bottom) {
  const index_t step = bottom ? -1 : 1;
  index_t k = bottom ? n - 2 : 0;
  if (k == j) return {};
  // Row k couples columns k and k + 1; consecutive rows share one column, carried over.
  index_t shared = bottom ? k + 1 : k;
  Acc x_shared = Acc(x[shared]), u_shared = u[shared];
  Acc p_prev = 0, p_cur = 1, m_k = 0, r_k = 0;
  for (; k != j; k += step) {
    const index_t fresh = bottom ? k : k + 1;
    const Acc x_fresh = Acc(x[fresh]), u_fresh = u[fresh];
    const Acc d = std::fabs(u_shared - u_fresh) * inv_lam + Acc(2);
    const Acc b = bottom ? x_fresh - x_shared : x_shared - x_fresh;  // (Dx)_k
    Acc p_next = d * p_cur - p_prev;
    if (p_next < Acc(0x1p512)) {
      m_k = p_cur / p_next;
    } else {  // rare (also catches an overflow)
      const Acc pivot = d - p_prev / p_cur;
      m_k = Acc(1) / pivot;
      p_cur = Acc(1);
      p_next = pivot;
    }
    r_k = (b + r_k) * m_k;
    m[k] = m_k;
    r[k] = r_k;
    p_prev = p_cur;
    p_cur = p_next;
    x_shared = x_fresh;
    u_shared = u_fresh;
  }
  return {m_k, r_k};
}

// w_j from row j and the two halves' edges. Reads u_j, u_{j+1}, so call it before either half
// substitutes.
template <class Acc, class X, class W>
OPTKERN_HD Acc irls_middle(const X& x, Acc inv_lam, const W& u, index_t j, IrlsEdge<Acc> top,
                           IrlsEdge<Acc> bottom) {
  const Acc d = std::fabs(u[j] - u[j + 1]) * inv_lam + Acc(2);
  const Acc b = Acc(x[j]) - Acc(x[j + 1]);
  return (b + top.r + bottom.r) / (d - top.m - bottom.m);
}

// The size of an update: max |u_new - u_old| and max |u_new| over the entries it wrote.
template <class Acc>
struct IrlsChange {
  Acc delta = 0, size = 0;
  OPTKERN_HD void add(Acc u_new, Acc u_old) {
    delta = max_of(delta, std::fabs(u_new - u_old));
    size = max_of(size, std::fabs(u_new));
  }
};

// Substitutes outwards from w_j through one half and writes u = x - D^T w there: u_0..u_j for
// the top half, u_{j+1}..u_{n-1} for the bottom one (w_{-1} = w_{n-1} = 0).
template <class Acc, class X, class W>
OPTKERN_HD IrlsChange<Acc> irls_substitute(index_t n, const X& x, const W& u, const W& m,
                                           const W& r, index_t j, Acc w_j, bool bottom) {
  IrlsChange<Acc> change;
  Acc w_near = w_j;
  if (!bottom) {
    for (index_t k = j - 1; k >= 0; --k) {  // w_k = r_k + m_k w_{k+1}
      const Acc w = r[k] + m[k] * w_near;
      const Acc u_new = Acc(x[k + 1]) - w_near + w;
      change.add(u_new, u[k + 1]);
      u[k + 1] = u_new;
      w_near = w;
    }
    const Acc u_new = Acc(x[0]) - w_near;
    change.add(u_new, u[0]);
    u[0] = u_new;
  } else {
    for (index_t k = j + 1; k <= n - 2; ++k) {  // w_k = r_k + m_k w_{k-1}
      const Acc w = r[k] + m[k] * w_near;
      const Acc u_new = Acc(x[k]) - w + w_near;
      change.add(u_new, u[k]);
      u[k] = u_new;
      w_near = w;
    }
    const Acc u_new = Acc(x[n - 1]) + w_near;
    change.add(u_new, u[n - 1]);
    u[n - 1] = u_new;
  }
  return change;
}

// The relative change max|u_new - u| / max|u_new| of a whole step (0 when nothing moved).
template <class Acc>
OPTKERN_HD inline Acc irls_relative_change(IrlsChange<Acc> a, IrlsChange<Acc> b) {
  const Acc delta = max_of(a.delta, b.delta);
  return delta > Acc(0) ? delta / max_of(a.size, b.size) : Acc(0);
}

// Runs at most max_iter (>= 1) iterations into y on one thread, stopping when the relative
// change max|u_new - u| / max|u_new| is <= tol. u (n), m and r (n - 1 each) are scratch.
// Returns the number of iterations and stores the last relative change in *change.
template <class Acc, class X, class Y, class W>
OPTKERN_HD index_t irls_denoise(index_t n, const X& x, Acc lam, Acc tol, index_t max_iter,
                                const Y& y, const W& u, const W& m, const W& r, Acc* change) {
  if (n <= 1 || lam == Acc(0)) {
    for (index_t k = 0; k < n; ++k) y[k] = x[k];
    *change = Acc(0);
    return 0;
  }
  const Acc inv_lam = irls_inverse_lambda(lam);
  const index_t j = n - 2;  // the last row: one downward sweep, then substitution upwards
  for (index_t k = 0; k < n; ++k) u[k] = Acc(x[k]);
  index_t it = 0;
  Acc rel = Acc(INFINITY);
  while (it < max_iter) {
    ++it;
    const IrlsEdge<Acc> top = irls_eliminate(n, x, inv_lam, u, m, r, j, false);
    const Acc w_j = irls_middle(x, inv_lam, u, j, top, IrlsEdge<Acc>{});
    const IrlsChange<Acc> above = irls_substitute(n, x, u, m, r, j, w_j, false);
    const IrlsChange<Acc> below = irls_substitute(n, x, u, m, r, j, w_j, true);
    rel = irls_relative_change(above, below);
    if (rel <= tol) break;
  }
  for (index_t k = 0; k < n; ++k) y[k] = u[k];
  *change = rel;
  return it;
}

}  // namespace optkern::detail
