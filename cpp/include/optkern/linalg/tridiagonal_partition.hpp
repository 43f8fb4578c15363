// One long tridiagonal system solved by P cooperating workers (a CUDA block's threads): the
// partition method (H. H. Wang, ACM TOMS 7(2), 1981; the SPIKE family). Rows are split into
// P chunks by P - 1 separator rows. With the separators' values as parameters, each chunk is
// an independent tridiagonal system; its solution is g + e * x_left + f * x_right, three
// right-hand sides through one Thomas sweep. Substituting these into the separator rows
// leaves a (P - 1)-row tridiagonal system for the separators; once it is solved every chunk
// fills in its rows. Work is about three Thomas sweeps, spread over P workers.
//
// The phases are separate functions so that a GPU block runs them with barriers between and
// the C++ tests run them in loops. Stable where Thomas is (diagonally dominant or SPD
// matrices): a chunk whose elimination fails the growth test reports it, and the caller
// solves the whole system another way.
#pragma once

#include <cmath>

#include "optkern/common.hpp"
#include "optkern/detail/hd.hpp"
#include "optkern/linalg/tridiagonal_system.hpp"

namespace optkern::detail {

// Separator c of P workers over n rows (c = 0 and c = P are the virtual rows -1 and n). Chunk
// c is the rows strictly between separators c and c + 1, at least one when n >= 2P - 1.
OPTKERN_HD inline index_t partition_separator(index_t c, index_t workers, index_t n) {
  return c * (n + 1) / workers - 1;
}

// Phase 1, worker c: eliminates its chunk with the right-hand sides (rhs, -lower at its first
// row, -upper at its last row), leaving g, e and f (n each, only the chunk's rows written).
// cprime (n) is scratch. Returns false if the chunk's elimination is not stable.
template <class Acc, class L, class D, class U, class B, class W>
OPTKERN_HD bool partition_chunk(index_t c, index_t workers, index_t n, const L& lower,
                                const D& diag, const U& upper, const B& rhs, const W& cprime,
                                const W& g, const W& e, const W& f) {
  const index_t lo = partition_separator(c, workers, n) + 1;
  const index_t hi = partition_separator(c + 1, workers, n) - 1;
  const bool has_left = c > 0, has_right = c + 1 < workers;
  Acc c_prev = 0, rg = 0, re = 0, rf = 0;
  for (index_t i = lo; i <= hi; ++i) {
    const Acc l = i > lo ? Acc(lower[i]) : Acc(0), d = Acc(diag[i]);
    const Acc u = i < hi ? Acc(upper[i]) : Acc(0);
    const Acc lc = l * c_prev;
    if (!(std::fabs(lc) <= Acc(kThomasGrowthLimit) * (std::fabs(d) + std::fabs(l) + std::fabs(u))))
      return false;
    const Acc pivot = d - lc;
    const Acc inv = Acc(1) / pivot;
    if (!(pivot != Acc(0)) || !std::isfinite(inv)) return false;  // as thomas_solve
    // the ghost columns enter as right-hand sides: -lower[lo] x_left, -upper[hi] x_right
    const Acc ghost_left = i == lo && has_left ? -Acc(lower[lo]) : Acc(0);
    const Acc ghost_right = i == hi && has_right ? -Acc(upper[hi]) : Acc(0);
    c_prev = u * inv;
    rg = (Acc(rhs[i]) - l * rg) * inv;
    re = (ghost_left - l * re) * inv;
    rf = (ghost_right - l * rf) * inv;
    cprime[i] = c_prev;
    g[i] = rg;
    e[i] = re;
    f[i] = rf;
  }
  for (index_t i = hi - 1; i >= lo; --i) {  // back substitution of all three
    g[i] = g[i] - cprime[i] * g[i + 1];
    e[i] = e[i] - cprime[i] * e[i + 1];
    f[i] = f[i] - cprime[i] * f[i + 1];
  }
  return true;
}

// Phase 2, for separator c = 1 .. workers - 1: its row of the reduced system, which couples
// the separators c - 1, c and c + 1 (index c - 1 in the reduced arrays).
template <class Acc, class L, class D, class U, class B, class W, class R>
OPTKERN_HD void partition_reduced_row(index_t c, index_t workers, index_t n, const L& lower,
                                      const D& diag, const U& upper, const B& rhs, const W& g,
                                      const W& e, const W& f, const R& red_lower,
                                      const R& red_diag, const R& red_upper, const R& red_rhs) {
  const index_t s = partition_separator(c, workers, n);
  const Acc l = Acc(lower[s]), u = Acc(upper[s]);
  // x_{s-1} = g + e x_{left separator} + f x_s;  x_{s+1} = g + e x_s + f x_{right separator}
  red_lower[c - 1] = l * Acc(e[s - 1]);
  red_diag[c - 1] = Acc(diag[s]) + l * Acc(f[s - 1]) + u * Acc(e[s + 1]);
  red_upper[c - 1] = u * Acc(f[s + 1]);
  red_rhs[c - 1] = Acc(rhs[s]) - l * Acc(g[s - 1]) - u * Acc(g[s + 1]);
}

// Phase 3, worker c: given the separators' values (separators[c - 1] is separator c), writes
// x over its chunk and its right separator.
template <class Acc, class W, class S, class X>
OPTKERN_HD void partition_finish(index_t c, index_t workers, index_t n, const W& g, const W& e,
                                 const W& f, const S& separators, const X& x) {
  const index_t lo = partition_separator(c, workers, n) + 1;
  const index_t hi = partition_separator(c + 1, workers, n) - 1;
  const Acc left = c > 0 ? Acc(separators[c - 1]) : Acc(0);
  const Acc right = c + 1 < workers ? Acc(separators[c]) : Acc(0);
  for (index_t i = lo; i <= hi; ++i) x[i] = Acc(g[i]) + Acc(e[i]) * left + Acc(f[i]) * right;
  if (c + 1 < workers) x[hi + 1] = right;
}

}  // namespace optkern::detail
