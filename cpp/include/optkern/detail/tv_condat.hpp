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
// (detail/tv_taut_string.hpp) when it runs out.
#pragma once

#include "optkern/common.hpp"
#include "optkern/detail/hd.hpp"

namespace optkern::detail {

// y = TV prox of x (length n >= 1) for lam > 0. Returns false, with y partly written, if it
// needed more than `budget` steps. y may alias x: positions are written only after their
// last read.
template <class Acc, class X, class Y>
OPTKERN_HD bool condat_denoise(index_t n, const X& x, Acc lam, const Y& y, index_t budget) {
  index_t k = 0, k0 = 0, kminus = 0, kplus = 0;
  Acc vmin = Acc(x[0]) - lam, vmax = Acc(x[0]) + lam;
  Acc umin = lam, umax = -lam;
  // Writes value over [k0, last] (at least y[k0]) and starts the next segment after it.
  auto close_segment = [&](index_t last, Acc value) {
    if (last < k0) last = k0;
    for (index_t i = k0; i <= last; ++i) y[i] = value;
    k0 = last + 1;
  };
  for (index_t steps = 0;; ++steps) {
    if (steps > budget) return false;
    if (k == n - 1) {
      // At the right end z_n must vanish: the segment's value is vmin + umin/len unless
      // that falls outside [vmin, vmax], in which case the segment ends earlier.
      if (umin < Acc(0)) {
        close_segment(kminus, vmin);
        if (k0 >= n) return true;
        k = kminus = k0;
        vmin = Acc(x[k]);
        umin = lam;
        umax = vmin + lam - vmax;
      } else if (umax > Acc(0)) {
        close_segment(kplus, vmax);
        if (k0 >= n) return true;
        k = kplus = k0;
        vmax = Acc(x[k]);
        umax = -lam;
        umin = vmax - lam - vmin;
      } else {
        const Acc value = vmin + umin / Acc(k - k0 + 1);
        for (index_t i = k0; i < n; ++i) y[i] = value;
        return true;
      }
      continue;
    }
    const Acc next = Acc(x[k + 1]);
    umin += next - vmin;
    if (umin < -lam) {  // even vmin is too high for x[k+1]: a downward jump after kminus
      close_segment(kminus, vmin);
      k = kminus = kplus = k0;
      vmin = Acc(x[k]);
      vmax = vmin + 2 * lam;
      umin = lam;
      umax = -lam;
      continue;
    }
    umax += next - vmax;
    if (umax > lam) {  // even vmax is too low: an upward jump after kplus
      close_segment(kplus, vmax);
      k = kminus = kplus = k0;
      vmax = Acc(x[k]);
      vmin = vmax - 2 * lam;
      umin = lam;
      umax = -lam;
      continue;
    }
    ++k;  // x[k] joins the segment; tighten the bounds that its value forces
    if (umin >= lam) {
      kminus = k;
      vmin += (umin - lam) / Acc(k - k0 + 1);
      umin = lam;
    }
    if (umax <= -lam) {
      kplus = k;
      vmax += (umax + lam) / Acc(k - k0 + 1);
      umax = -lam;
    }
  }
}

}  // namespace optkern::detail
