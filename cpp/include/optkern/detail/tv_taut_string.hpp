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
//
// Rises are kept exactly, as unevaluated sums hi + lo (Knuth's TwoSum): when the apex moves,
// the other chain's first segment loses the part the path took (a subtraction), and that
// segment later hands its own rise to the next such subtraction. Rounded rises would pass
// their errors along this chain of subtractions over the whole signal (a signal offset by
// 1e6 drifted by 5e-3 at small lam); exact ones keep every slope within a few ulps of its
// exact value, so the result of x + c is that of x, plus c, up to the rounding of x + c.
//
// Per-edge weights (the weighted prox, sum_k w_k |u_k - u_{k+1}|) only change the tube: its
// half-width at point j is w_{j-1}, so column k's walls rise by x_k +- (w_k - w_{k-1}) (the
// widths at the pinned ends are 0).
#pragma once

#include <cmath>
#include <limits>

#include "optkern/common.hpp"
#include "optkern/detail/hd.hpp"

// The per-column step must be inlined into the walk's loop (GCC stopped inlining it once the
// translation unit also held Condat's algorithm, and the walk lost 15-25%).
#if defined(__CUDACC__)
#define OPTKERN_TAUT_INLINE __forceinline__
#elif defined(__GNUC__)
#define OPTKERN_TAUT_INLINE inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define OPTKERN_TAUT_INLINE __forceinline
#else
#define OPTKERN_TAUT_INLINE inline
#endif

namespace optkern::detail {

// A piece of a chain: `dx` columns rising by exactly dy + lo (|lo| at most half an ulp of dy),
// with slope dy / dx.
template <class Acc>
struct TautSegment {
  index_t dx;
  Acc dy, slope, lo;
};

// a + b = s + e exactly (Knuth's TwoSum; no assumption on the magnitudes).
template <class Acc>
OPTKERN_HD inline void two_sum(Acc a, Acc b, Acc& s, Acc& e) {
  s = a + b;
  const Acc bv = s - a;
  e = (a - (s - bv)) + (b - bv);
}

// Folds lo into dy (after a cancellation lo may exceed dy's ulp) and sets the slope.
template <class Acc>
OPTKERN_HD inline void normalize(TautSegment<Acc>& s) {
  Acc hi, lo;
  two_sum(s.dy, s.lo, hi, lo);
  s.dy = hi;
  s.lo = lo;
  s.slope = hi / Acc(s.dx);
}

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
OPTKERN_HD OPTKERN_TAUT_INLINE index_t chain_append(TautChain<Acc>& chain, Acc dy, Acc lo,
                                                    Grow& grow) {
  TautSegment<Acc> s{1, dy, dy, lo};
  if (!chain.empty() && (kConvex ? chain.back().slope >= dy : chain.back().slope <= dy)) {
    do {
      const TautSegment<Acc>& b = chain.back();
      Acc sum, err;
      two_sum(s.dy, b.dy, sum, err);  // off the loop's critical path: only lo waits for it
      s.dx += b.dx;
      s.dy = sum;
      s.lo += b.lo + err;
      chain.pop_back();
    } while (!chain.empty() && (kConvex ? chain.back().slope * Acc(s.dx) >= s.dy + s.lo
                                        : chain.back().slope * Acc(s.dx) <= s.dy + s.lo));
    normalize(s);
  }
  return chain.push_back(s, grow) ? chain.size() : 0;
}

enum class TautStatus { kDone, kOverflow, kOutOfMemory };

// The tube's half-width at the inner points j = 1..n-1: one lam for every edge...
template <class Acc>
struct ConstantWidth {
  static constexpr bool kConstant = true;
  Acc lam;
  OPTKERN_HD Acc operator()(index_t) const { return lam; }
  OPTKERN_HD Acc largest() const { return lam; }
};

// ...or edge j-1's weight w[j-1], read as min(w[j-1], cap) (as detail/tv_condat.hpp's
// EdgeLambdas: an edge above cap is never active, and a huge weight would round the walls'
// rises x_k +- (w_k - w_k-1) away), times the signal's scale (a power of two).
template <class Acc, class W>
struct EdgeWidths {
  static constexpr bool kConstant = false;
  W w;
  Acc cap;
  Acc scale;
  Acc max_width;  // the largest min(w_k, cap) * scale (the scale of the ties between pieces)
  OPTKERN_HD Acc operator()(index_t j) const {
    const Acc v = Acc(w[j - 1]);
    return (v < cap ? v : cap) * scale;
  }
  OPTKERN_HD Acc largest() const { return max_width; }
};

// y (length n) = argmin_u 1/2 |u - x|^2 + sum_k w_k |u_k - u_{k+1}| for n >= 2, the widths w
// given by `width` (ConstantWidth: lam > 0; EdgeWidths: w_k >= 0), reading x[k] * scale and
// writing the result times unscale (powers of two: an exact rescaling for signals whose local
// sums would overflow). y may alias x: y[k] is written only after x[k] is read. The chains
// start in the memory `upper` and `lower` describe (n segments each is always enough) and call
// grow(chain) when they outgrow it. Returns kOverflow if a value came out non-finite (retry
// with a smaller scale) and kOutOfMemory if grow failed; y is then unspecified.
template <class Acc, class X, class Width, class Y, class Grow>
OPTKERN_HD TautStatus taut_string_denoise(index_t n, const X& x, const Width& width, Acc scale,
                                          Acc unscale, const Y& y, TautChain<Acc> upper,
                                          TautChain<Acc> lower, Grow grow) {
  // Pieces are written one run behind: a piece whose slope equals the previous one up to
  // rounding (two collinear pieces, which ties such as lam = lambda_max produce) joins its
  // run, so that every segment of y is one exact value and no jump is a rounding artefact.
  // Rises are exact, so a slope is within a few ulps of its exact value.
  Acc poison = 0;  // stays 0 while every value is finite (inf * 0 and NaN * 0 are NaN); a
                   // floating-point flag leaves the general registers to the chains
  index_t written = 0;  // y[0, written) is decided: the apex sits at column `written`
  TautSegment<Acc> run{0, Acc(0), Acc(0), Acc(0)};
  auto flush = [&] {
    const Acc value = run.slope * unscale;
    poison += value * Acc(0);
    for (index_t i = written - run.dx; i < written; ++i) y[i] = value;
  };
  // A piece's slope is exact up to rounding of its own size and of the widths (lam itself is
  // often rounded, e.g. lambda_max computed from partial sums): a tie is closer than that.
  const Acc tie_width = Acc(16) * std::numeric_limits<Acc>::epsilon() * width.largest();
  auto emit = [&](const TautSegment<Acc>& s) {
    const Acc tie = max_of(Acc(16) * std::numeric_limits<Acc>::epsilon() * std::fabs(s.slope) +
                               tie_width / Acc(s.dx),
                           Acc(16) * std::numeric_limits<Acc>::epsilon() * std::fabs(run.slope) +
                               tie_width / Acc(max_of(run.dx, index_t(1))));
    if (run.dx > 0 && std::fabs(s.slope - run.slope) <= tie) {
      Acc sum, err;
      two_sum(run.dy, s.dy, sum, err);
      run.dx += s.dx;
      run.dy = sum;
      run.lo += s.lo + err;
      normalize(run);
    } else {
      flush();
      run = s;
    }
    written += s.dx;
  };
  // The apex moved to the end of `taken`, the first segment of one chain: the other chain,
  // a single segment from the old apex, now starts there.
  auto rebase = [](TautSegment<Acc>& single, const TautSegment<Acc>& taken) {
    Acc diff, err;
    two_sum(single.dy, -taken.dy, diff, err);
    single.dx -= taken.dx;
    single.dy = diff;
    single.lo += err - taken.lo;
    normalize(single);
  };
  // Column k: the walls rise by x_k + d and x_k - d (d = hi + lo exactly, the change of the
  // half-width across the column).
  auto column = [&](Acc up, Acc up_lo, Acc down, Acc down_lo) {
    const index_t upper_size = chain_append<true>(upper, up, up_lo, grow);
    if (upper_size == 1) {
      // The upper chain is one straight segment from the apex: if it dips below the lower
      // chain's first direction, the path passes through that segment's end.
      while (!lower.empty() && upper.front().slope < lower.front().slope) {
        emit(lower.front());
        rebase(upper.front(), lower.front());
        lower.pop_front();
      }
    }
    const index_t lower_size = chain_append<false>(lower, down, down_lo, grow);
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
    const Acc xk = Acc(x[k]) * scale;
    Acc up = xk, up_lo = 0, down = xk, down_lo = 0;
    if constexpr (Width::kConstant) {
      // The path starts at 0 and ends at r_n, between the walls: the first column's rises get
      // +-lam and the last one's -+lam.
      if (k == 0 || k == n - 1) {
        const Acc d = k == 0 ? width(1) : -width(n - 1);
        two_sum(xk, d, up, up_lo);
        two_sum(xk, -d, down, down_lo);
      }
    } else {
      const Acc left = k == 0 ? Acc(0) : width(k), right = k == n - 1 ? Acc(0) : width(k + 1);
      Acc d, d_lo;
      two_sum(right, -left, d, d_lo);
      two_sum(xk, d, up, up_lo);
      two_sum(xk, -d, down, down_lo);
      TautSegment<Acc> u{1, up, up, up_lo + d_lo}, l{1, down, down, down_lo - d_lo};
      normalize(u);
      normalize(l);
      up = u.dy, up_lo = u.lo, down = l.dy, down_lo = l.lo;
    }
    if (!column(up, up_lo, down, down_lo)) return TautStatus::kOutOfMemory;
  }
  // Both chains end at (n, r_n) and at most one of them still bends: follow that one.
  const TautChain<Acc>& path = upper.size() > 1 ? upper : lower;
  for (const TautSegment<Acc>* s = path.head; s != path.tail; ++s) emit(*s);
  flush();
  return poison == Acc(0) ? TautStatus::kDone : TautStatus::kOverflow;
}

}  // namespace optkern::detail
