// The exact 1-D TV prox of one signal by Condat's direct algorithm (L. Condat, "A direct
// algorithm for 1D total variation denoising", IEEE Signal Process. Lett. 20(11), 2013),
// written from the paper's description.
//
// It needs no memory besides the output, which suits one GPU thread per signal, and it may
// work in place. It scans forward keeping, for the current segment [k0..k], the range
// [vmin, vmax] its value can still take and the dual sums umin, umax those two values imply;
// when a bound becomes infeasible the segment ends with a jump and the scan restarts after the
// last position that set that bound. Restarts can rescan a long stretch many times (O(n^2) in
// the worst case: it slows down by ~100x at lam = 0.1 lambda_max on n = 1e6 random walks), so
// the caller gives a step budget and falls back to the taut string
// (detail/tv_taut_string.hpp) when it runs out. On short segments (small lam) it is the
// faster of the two: a step is a few additions and compares.
//
// vmin and vmax are kept relative to the segment's first sample (`base`), so that every sum
// is local: a signal offset by c gives the offset-free result plus c up to the rounding of
// x + c (the absolute form rounded each bound update to the ulp of c).
#pragma once

#include <cmath>
#include <limits>

#include "optkern/common.hpp"
#include "optkern/detail/hd.hpp"

// The walk's loop for runs of one-sample segments (fresh_jumps below) needs GCC/Clang vector
// extensions, and pays off only with AVX-512's mask registers: with SSE4.2 or AVX2 its selects
// cost more instructions, and it measured 0.92-0.94x the plain walk at lam = 0.2 sigma on noise
// (many short runs) for 1.5-2x at lam = 0.01 sigma. Elsewhere (CUDA, other compilers and CPUs)
// the plain walk runs.
#if defined(__GNUC__) && !defined(__CUDACC__) && defined(__AVX512VL__)
#define OPTKERN_TV_FRESH_JUMPS 1
#else
#define OPTKERN_TV_FRESH_JUMPS 0
#endif

namespace optkern::detail {

// lam_k for every edge: one lam...
template <class Acc>
struct ScalarLambda {
  static constexpr bool kScalar = true;
  Acc lam;
  OPTKERN_HD Acc operator()(index_t) const { return lam; }
  OPTKERN_HD bool within(Acc) const { return true; }
};

// ...or edge k's weight w[k] (k = 0..n-2). The walk gives up (returns false) on a weight of
// `cap` or more: the caller sets cap where an edge can no longer be active (no |z_k| of the
// solution reaches it), and solves such signals by the taut string, whose exact rises keep
// huge weights from rounding the result away (here they would enter the bounds). Edge n-1,
// past the end, is z_n-1 = 0: lam 0, so that the last sample's test and tightening ask for it
// exactly and the walk's end never restarts (the scalar walk tests it against lam, then
// restarts from its end; with per-edge lam that restart's inherited bound could name a stale
// jump).
template <class Acc, class W>
struct EdgeLambdas {
  static constexpr bool kScalar = false;
  W w;
  index_t last;  // n - 1, the number of weights
  Acc cap;
  OPTKERN_HD Acc operator()(index_t k) const { return k < last ? Acc(w[k]) : Acc(0); }
  OPTKERN_HD bool within(Acc lam) const { return lam < cap; }
};

// y = TV prox of x (length n >= 1) for the edge weights `lam` (lam(k) >= 0 for edge k, a
// ScalarLambda or EdgeLambdas). Returns false, with y partly written, on a weight that is not
// lam.within, and once the samples it rescanned (stepped over again after a restart) exceed
// budget + rate * k0, where k0 is the number of samples already decided: `budget` alone
// bounds the total work (n + budget steps), and `rate` lets it give up early, as soon as
// rescans average more than `rate` per decided sample. budget = rate = 0 gives up at once for
// n > 1 (callers force their fallback with it). y may alias x: positions are written only
// after their last read. Where x_i - x_j +- 4 lam can overflow the result may be wrong: the
// CPU callers check 4 (sum |x_k| + lam) is finite first.
template <class Acc, class X, class Lam, class Y>
OPTKERN_HD bool condat_walk(index_t n, const X& x, const Lam& lam, const Y& y, index_t budget,
                            index_t rate = 0) {
  index_t k = 0, k0 = 0, kminus = 0, kplus = 0;
  Acc base = Acc(x[0]);  // x[k0]; vmin, vmax are relative to it
  const Acc lam0 = lam(0);
  if (!lam.within(lam0)) return false;
  Acc vmin = -lam0, vmax = lam0;
  Acc umin = lam0, umax = -lam0;
  // Segments are written one run behind, as the taut string writes its pieces: a segment
  // whose value equals the previous one up to rounding (a tie, which lam = lambda_max
  // produces) joins its run, so that no jump is a rounding artefact. The run [run_first,
  // k0) is never read again, which keeps in-place use safe.
  index_t run_first = 0;
  Acc run_value = 0;
  const Acc eps16 = Acc(16) * std::numeric_limits<Acc>::epsilon();
  auto flush = [&] {
    if (run_first < k0) {  // (most runs are one sample long: no vector loop's preamble)
      y[run_first] = run_value;
      for (index_t i = run_first + 1; i < k0; ++i) y[i] = run_value;
    }
  };
  auto emit = [&](index_t last, Acc value) {  // the segment [k0, last] has this value
    const index_t len = last - k0 + 1, run_len = k0 - run_first;
    const Acc gap = std::fabs(value - run_value), scale = std::fabs(value) + std::fabs(run_value);
    // The tie bound is at most eps16 (scale + 2 lam), lam that of the edge between them: test
    // that first, without divisions.
    if (run_len > 0 && gap <= eps16 * (scale + 2 * lam(k0 - 1)) &&
        gap <= eps16 * (scale + lam(k0 - 1) * (Acc(1) / Acc(len) + Acc(1) / Acc(run_len)))) {
      run_value += (value - run_value) * (Acc(len) / Acc(run_len + len));
    } else {
      flush();
      run_first = k0;
      run_value = value;
    }
    k0 = last + 1;
  };
  // Ends the segment at `last` (at least k0) with the relative value `value`.
  auto close_segment = [&](index_t last, Acc value) { emit(last < k0 ? k0 : last, base + value); };
  // The next segment starts at k0: its bounds move to the new base.
  auto rebase = [&]() {
    const Acc next_base = Acc(x[k0]);
    const Acc shift = base - next_base;
    vmin += shift;
    vmax += shift;
    base = next_base;
  };
  if (budget <= 0 && rate <= 0 && n > 1) return false;
  index_t rescanned = 0;
  // After a restart at k0 the samples up to k are scanned again; false once over budget.
  auto restart_fits = [&] {
    rescanned += k - k0;
    return rescanned <= budget + rate * k0;
  };
  // Just after a jump at one lam: the segment [k0] is fresh (k = kminus = kplus = k0, the
  // bounds set by the jump's direction `down`). At small lam the next sample nearly always
  // jumps again, up or down at random: this loop takes such samples without a branch on the
  // direction (which would be mispredicted half of the time), computing exactly what the
  // general step below computes for them, and hands over to it, with the fresh state, at the
  // first sample that does not jump (or at the last sample). It rescans nothing.
#if OPTKERN_TV_FRESH_JUMPS
  auto fresh_jumps = [&](bool down_first) {
    const Acc lam1 = lam(0), two = lam1 + lam1, zero = lam1 - lam1;
    // The tests are made for both directions at once, in the two lanes of a vector, and the
    // direction (a lane mask) picks among their outcomes: the loop-carried dependency is one
    // select, with no branch on the direction and no floating-point chain behind it. (The
    // select is and-or on the bits: a ternary on a mask first compares its lanes with 0.)
    typedef Acc V __attribute__((vector_size(2 * sizeof(Acc))));
    typedef decltype(V{} < V{}) Mask;
    auto select = [](Mask m, auto a, auto b) {
      using T = decltype(a);
      return T((Mask(a) & m) | (Mask(b) & ~m));
    };
    const V low = {zero, -two}, high = {two, zero};  // vmin, vmax after a jump down | up
    const V lam_v = {lam1, lam1};
    Mask down = down_first ? ~Mask{} : Mask{};
    // The segment's value relative to base: vmin after a jump down, vmax after one up, of the
    // direction's bounds; rows (direction, jump): up & up, up & down, down & up, down & down.
    const Acc values[4] = {zero, -two, two, zero};
    while (k0 < n - 1) {
      const Acc following = Acc(x[k0 + 1]);  // the next segment's base if this one ends
      const Acc next = following - base;
      const V next_v = {next, next};
      // umin + (next - vmin) and umax + (next - vmax) for either direction's bounds
      const V umin_next = lam_v + (next_v - low), umax_next = -lam_v + (next_v - high);
      const Mask down_next = umin_next < -lam_v;
      const Mask jump = down_next | (umax_next > lam_v);
      // lane 0: whether this sample jumps, lane 1: whether down, for the current direction
      const Mask outcome = select(down, Mask{jump[0], down_next[0]}, Mask{jump[1], down_next[1]});
      if (!outcome[0]) break;
      const int row = int(down[0] & 2) | int(outcome[1] & 1);
      emit(k0, base + values[row]);  // k0 moves on by one
      k = kminus = kplus = k0;
      base = following;
      down = Mask{outcome[1], outcome[1]};
    }
    const bool last_down = down[0] != 0;
    vmin = last_down ? zero : -two;
    vmax = last_down ? two : zero;
  };
#endif
  int fresh = 0;  // 1 or 2 just after a jump down or up (fresh_jumps' cue)
  for (;;) {
#if OPTKERN_TV_FRESH_JUMPS
    if constexpr (Lam::kScalar) {
      if (fresh) {
        fresh_jumps(fresh == 1);
        fresh = 0;
      }
    }
#endif
    if (k == n - 1) {
      // At the right end z_n must vanish: the segment's value is vmin + umin/len unless
      // that falls outside [vmin, vmax], in which case the segment ends earlier.
      if (umin < Acc(0)) {
        close_segment(kminus, vmin);
        if (k0 >= n) {
          flush();
          return true;
        }
        if (!restart_fits()) return false;
        rebase();
        k = kminus = k0;
        const Acc left = lam(k0 - 1), right = lam(k0);  // z_k0-1 = +left
        vmin = left - right;
        umin = right;
        umax = left - vmax;
      } else if (umax > Acc(0)) {
        close_segment(kplus, vmax);
        if (k0 >= n) {
          flush();
          return true;
        }
        if (!restart_fits()) return false;
        rebase();
        k = kplus = k0;
        const Acc left = lam(k0 - 1), right = lam(k0);  // z_k0-1 = -left
        vmax = right - left;
        umax = -right;
        umin = -left - vmin;
      } else {
        emit(n - 1, base + (vmin + umin / Acc(k - k0 + 1)));
        flush();
        return true;
      }
      continue;
    }
    const Acc next = Acc(x[k + 1]) - base;
    const Acc lam_next = lam(k + 1);  // (the restarts read only edges this has checked)
    if (!lam.within(lam_next)) return false;
    umin += next - vmin;
    if (umin < -lam_next) {  // even vmin is too high for x[k+1]: a downward jump after kminus
      close_segment(kminus, vmin);
      if (!restart_fits()) return false;
      k = kminus = kplus = k0;
      base = Acc(x[k]);
      const Acc left = lam(k0 - 1), right = lam(k0);  // z_k0-1 = +left
      vmin = left - right;
      vmax = left + right;
      umin = right;
      umax = -right;
      if constexpr (Lam::kScalar && OPTKERN_TV_FRESH_JUMPS) fresh = 1;
      continue;
    }
    umax += next - vmax;
    if (umax > lam_next) {  // even vmax is too low: an upward jump after kplus
      close_segment(kplus, vmax);
      if (!restart_fits()) return false;
      k = kminus = kplus = k0;
      base = Acc(x[k]);
      const Acc left = lam(k0 - 1), right = lam(k0);  // z_k0-1 = -left
      vmax = right - left;
      vmin = -left - right;
      umin = right;
      umax = -right;
      if constexpr (Lam::kScalar && OPTKERN_TV_FRESH_JUMPS) fresh = 2;
      continue;
    }
    ++k;  // x[k] joins the segment; tighten the bounds that its value forces
    if (umin >= lam_next) {
      kminus = k;
      vmin += (umin - lam_next) / Acc(k - k0 + 1);
      umin = lam_next;
    }
    if (umax <= -lam_next) {
      kplus = k;
      vmax += (umax + lam_next) / Acc(k - k0 + 1);
      umax = -lam_next;
    }
  }
}

// The walk for one lam > 0 on every edge.
template <class Acc, class X, class Y>
OPTKERN_HD bool condat_denoise(index_t n, const X& x, Acc lam, const Y& y, index_t budget,
                               index_t rate = 0) {
  return condat_walk<Acc>(n, x, ScalarLambda<Acc>{lam}, y, budget, rate);
}

}  // namespace optkern::detail
