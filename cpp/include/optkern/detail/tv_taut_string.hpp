// The exact 1-D TV prox of one signal by the taut string method, O(n) in the worst case.
//
// With r_k = x_1 + ... + x_k, the cumulative sum s of the solution y is the shortest path
// from (0, 0) to (n, r_n) inside the tube r_k - lam <= s_k <= r_k + lam, and y is its slope
// (Davies & Kovac, Ann. Statist. 29(1), 2001; Barbero & Sra, JMLR 19, 2018, section 2.2; the
// derivation is in tests/reference/tv.py). The path is found by a funnel walk: from the apex
// (the last point the path is known to pass through) keep the convex chain of upper-wall
// points and the concave chain of lower-wall points; every point enters and leaves a chain
// once, so the walk is linear however long the segments are, unlike Condat's direct
// algorithm whose restarts can rescan a segment many times (detail/tv_condat.hpp).
//
// The chains are stored as segments (span, rise, slope) rather than points: a new column adds
// a segment whose rise is just x_k, and rises are local sums, so no running total of x (which
// grows with n and with the signal's offset) ever enters a slope. As in proxTV's classic taut
// string, the common step (no merge) needs no division.
#pragma once

#include <cmath>
#include <limits>

#include "optkern/common.hpp"
#include "optkern/detail/hd.hpp"

namespace optkern::detail {

// A piece of a chain: `dx` columns rising by `dy`, with slope dy / dx. `mag` is the sum of the
// magnitudes of the terms added into dy, the scale of its rounding error.
template <class Acc>
struct TautSegment {
  index_t dx;
  Acc dy, slope, mag;
};

// A chain in caller-provided memory [begin, end). Segments leave at the front and enter at
// the back; when the back reaches the end the live segments slide down to the start, and if
// they fill more than half of the memory, push_back asks `grow` for more (grow(chain) moves
// the live segments into a larger block and updates the four pointers, or returns false).
// With n segments of memory it never slides: a signal adds at most n. The kernel below keeps
// its chains in local variables (pointers, not indices, which a segment store could alias) so
// that the compiler holds them in registers.
template <class Acc>
struct TautChain {
  TautSegment<Acc>* begin;
  TautSegment<Acc>* end;
  TautSegment<Acc>* head = begin;
  TautSegment<Acc>* tail = begin;

  OPTKERN_HD bool empty() const { return head == tail; }
  OPTKERN_HD index_t size() const { return tail - head; }
  OPTKERN_HD TautSegment<Acc>& front() const { return *head; }
  OPTKERN_HD TautSegment<Acc>& back() const { return tail[-1]; }
  OPTKERN_HD void pop_front() { ++head; }
  OPTKERN_HD void pop_back() { --tail; }
  template <class Grow>
  OPTKERN_HD bool push_back(const TautSegment<Acc>& s, Grow& grow) {
    if (tail == end) {
      if (2 * size() <= end - begin) {
        TautSegment<Acc>* to = begin;
        for (TautSegment<Acc>* from = head; from != tail; ++from) *to++ = *from;
        head = begin;
        tail = to;
      } else if (!grow(*this)) {
        return false;
      }
    }
    *tail++ = s;
    return true;
  }
};

// Appends the segment of one new column to a chain, merging it with the chain's last segments
// while they would not bend the right way: convex (slopes increasing) for the upper wall,
// concave for the lower wall. Returns the chain's size, or 0 if it ran out of memory.
template <bool kConvex, class Acc, class Grow>
OPTKERN_HD index_t chain_append(TautChain<Acc>& chain, Acc dy, Acc mag, Grow& grow) {
  TautSegment<Acc> s{1, dy, dy, mag};
  if (!chain.empty() && (kConvex ? chain.back().slope >= dy : chain.back().slope <= dy)) {
    do {
      s.dx += chain.back().dx;
      s.dy += chain.back().dy;
      s.mag += chain.back().mag;
      chain.pop_back();
    } while (!chain.empty() && (kConvex ? chain.back().slope * Acc(s.dx) >= s.dy
                                        : chain.back().slope * Acc(s.dx) <= s.dy));
    s.slope = s.dy / Acc(s.dx);
  }
  return chain.push_back(s, grow) ? chain.size() : 0;
}

enum class TautStatus { kDone, kOverflow, kOutOfMemory };

// y (length n) = argmin_u 1/2 |u - x|^2 + lam sum |u_k - u_{k+1}| for lam > 0, n >= 2, reading
// x[k] * scale and writing the result times unscale (powers of two: an exact rescaling for
// signals whose local sums would overflow). y may alias x: y[k] is written only after x[k]
// is read. The chains start in the memory `upper` and `lower` describe (n segments each is
// always enough) and call grow(chain) when they outgrow it. Returns kOverflow if a value came
// out non-finite (retry with a smaller scale) and kOutOfMemory if grow failed; y is then
// unspecified.
template <class Acc, class X, class Y, class Grow>
OPTKERN_HD TautStatus taut_string_denoise(index_t n, const X& x, Acc lam, Acc scale,
                                          Acc unscale, const Y& y, TautChain<Acc> upper,
                                          TautChain<Acc> lower, Grow grow) {
  // Pieces are written one run behind: a piece whose slope equals the previous one up to
  // rounding (two collinear pieces, which ties such as lam = lambda_max produce) joins its
  // run, so that every segment of y is one exact value and no jump is a rounding artefact.
  // The rounding of a slope is relative to the mean magnitude of the terms summed into it.
  Acc poison = 0;  // stays 0 while every value is finite (inf * 0 and NaN * 0 are NaN); a
                   // floating-point flag leaves the general registers to the chains
  index_t written = 0;  // y[0, written) is decided: the apex sits at column `written`
  TautSegment<Acc> run{0, Acc(0), Acc(0), Acc(0)};
  auto flush = [&] {
    const Acc value = run.slope * unscale;
    poison += value * Acc(0);
    for (index_t i = written - run.dx; i < written; ++i) y[i] = value;
  };
  auto emit = [&](const TautSegment<Acc>& s) {
    // |slope difference| <= 16 eps max(mean magnitudes), without the divisions. Magnitudes
    // near overflow would make every piece a tie: they ask for the rescaled retry instead.
    const Acc dx_s = Acc(s.dx), dx_run = Acc(run.dx);
    const Acc tie = Acc(16) * std::numeric_limits<Acc>::epsilon() *
                    max_of(s.mag * dx_run, run.mag * dx_s);
    poison += tie * Acc(0);
    if (run.dx > 0 && std::fabs(s.slope - run.slope) * (dx_s * dx_run) <= tie) {
      run.dx += s.dx;
      run.dy += s.dy;
      run.mag += s.mag;
      run.slope = run.dy / Acc(run.dx);
    } else {
      flush();
      run = s;
    }
    written += s.dx;
  };
  // The apex moved to the end of `taken`, the first segment of one chain: the other chain,
  // a single segment from the old apex, now starts there.
  auto rebase = [](TautSegment<Acc>& single, const TautSegment<Acc>& taken) {
    single.dx -= taken.dx;
    single.dy -= taken.dy;
    single.mag += taken.mag;  // a difference: the magnitudes of both sides count
    single.slope = single.dy / Acc(single.dx);
  };
  // Column k: both walls rise by x_k; the path starts at 0 and ends at r_n, between the walls,
  // so the first column's rises get +-lam (`ends`) and the last one's -+lam.
  auto column = [&](Acc xk, Acc ends) {
    const Acc mag = std::fabs(xk) + std::fabs(ends);
    const index_t upper_size = chain_append<true>(upper, xk + ends, mag, grow);
    if (upper_size == 1) {
      // The upper chain is one straight segment from the apex: if it dips below the lower
      // chain's first direction, the path passes through that segment's end.
      while (!lower.empty() && upper.front().slope < lower.front().slope) {
        emit(lower.front());
        rebase(upper.front(), lower.front());
        lower.pop_front();
      }
    }
    const index_t lower_size = chain_append<false>(lower, xk - ends, mag, grow);
    if (lower_size == 1) {
      // Mirrored. (The apex never reaches column k, where the lower wall is below the
      // upper one; the test on dx keeps rounding from pretending otherwise.)
      while (!upper.empty() && lower.front().slope > upper.front().slope &&
             upper.front().dx < lower.front().dx) {
        emit(upper.front());
        rebase(lower.front(), upper.front());
        upper.pop_front();
      }
    }
    return upper_size != 0 && lower_size != 0;
  };
  for (index_t k = 0; k < n; ++k) {  // one call site, so that `column` is inlined
    const Acc ends = k == 0 ? lam : (k == n - 1 ? -lam : Acc(0));
    if (!column(Acc(x[k]) * scale, ends)) return TautStatus::kOutOfMemory;
  }
  // Both chains end at (n, r_n) and at most one of them still bends: follow that one.
  const TautChain<Acc>& path = upper.size() > 1 ? upper : lower;
  for (const TautSegment<Acc>* s = path.head; s != path.tail; ++s) emit(*s);
  flush();
  return poison == Acc(0) ? TautStatus::kDone : TautStatus::kOverflow;
}

}  // namespace optkern::detail
