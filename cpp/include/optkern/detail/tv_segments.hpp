// The exact backward of the 1-D TV prox for one signal: O(n), one pass to find the scale, one
// to average. The derivation is in tests/reference/tv.py: y is constant on maximal segments
// S = [a..b]; dy/dx averages over each segment (block-diagonal 1/|S| blocks, NOT the identity
// the lecture notes claim), and y_S = mean(x_S) - lam (v_b - v_{a-1}) / |S| with
// v_k = sign(y_k - y_{k+1}) (0 at both ends) gives dy_S/dlam = -(v_b - v_{a-1}) / |S|.
#pragma once

#include <cmath>

#include "optkern/common.hpp"
#include "optkern/detail/hd.hpp"

namespace optkern::detail {

template <class Acc>
OPTKERN_HD inline Acc sign_of(Acc v) {
  return Acc((v > Acc(0)) - (v < Acc(0)));
}

// The walk both backwards share. Neighbours y_k, y_{k+1} belong to one segment when
// |y_k - y_{k+1}| <= rtol * max|y|: exact solvers give exactly equal values inside a segment,
// iterative ones only nearly equal. Writes grad_x = the segment means of grad_y (grad_x may
// alias grad_y) and tells the caller about every edge e = (k-1, k): inside(e) for an edge
// inside a segment, and closed(start, end, mean, left, right) once per segment [start, end)
// with the signs v = sign(y_e - y_{e+1}) of the jumps on its left and right (0 at the ends).
template <class Acc, class Y, class G, class GX, class Inside, class Closed>
OPTKERN_HD void walk_segments(index_t n, const Y& y, const G& grad_y, Acc rtol, const GX& grad_x,
                              Inside&& inside, Closed&& closed) {
  if (n <= 0) return;
  Acc scale = 0;
  for (index_t k = 0; k < n; ++k) scale = max_of(scale, std::fabs(Acc(y[k])));
  const Acc tol = rtol * scale;
  Acc left = 0, sum = Acc(grad_y[0]), prev = Acc(y[0]);
  index_t start = 0;
  for (index_t k = 1; k <= n; ++k) {
    const Acc cur = k < n ? Acc(y[k]) : prev;
    if (k < n && std::fabs(cur - prev) <= tol) {
      sum += Acc(grad_y[k]);
      inside(k - 1);
      prev = cur;
      continue;
    }
    const Acc mean = sum / Acc(k - start);
    const Acc right = k < n ? sign_of(prev - cur) : Acc(0);
    closed(start, k, mean, left, right);
    const Acc next = k < n ? Acc(grad_y[k]) : Acc(0);  // read before grad_x may overwrite it
    for (index_t i = start; i < k; ++i) grad_x[i] = mean;
    left = right;
    start = k;
    sum = next;
    prev = cur;
  }
}

// grad_x = segment means of grad_y; returns dL/dlam for this signal.
template <class Acc, class Y, class G, class GX>
OPTKERN_HD Acc segment_vjp(index_t n, const Y& y, const G& grad_y, Acc rtol, const GX& grad_x) {
  Acc grad_lam = 0;
  walk_segments<Acc>(
      n, y, grad_y, rtol, grad_x, [](index_t) {},
      [&](index_t, index_t, Acc mean, Acc left, Acc right) { grad_lam -= (right - left) * mean; });
  return grad_lam;
}

}  // namespace optkern::detail

namespace optkern::detail {

// The backward with one weight per edge (sum_k w_k |y_k - y_{k+1}|): grad_x as segment_vjp,
// and grad_w (n - 1) per edge. A segment S = [a..b] has y_S = mean(x_S) - (w_b v_b -
// w_{a-1} v_{a-1}) / |S|, so an edge e where y jumps (v_e = sign(y_e - y_{e+1})) moves the
// segment on its left by -v_e / |S| and the one on its right by +v_e / |S'|:
// dL/dw_e = v_e (mean(g_S') - mean(g_S)); edges inside a segment get 0.
template <class Acc, class Y, class G, class GX, class GW>
OPTKERN_HD void segment_vjp_weighted(index_t n, const Y& y, const G& grad_y, Acc rtol,
                                     const GX& grad_x, const GW& grad_w) {
  // Edge e gets -v_e mean(g_S) from the segment S ending at e, and v_e mean(g_S') from the
  // segment S' starting at e + 1 when that one closes.
  walk_segments<Acc>(
      n, y, grad_y, rtol, grad_x, [&](index_t e) { grad_w[e] = 0; },
      [&](index_t start, index_t end, Acc mean, Acc left, Acc right) {
        if (start > 0) grad_w[start - 1] += left * mean;
        if (end < n) grad_w[end - 1] = -right * mean;
      });
}

}  // namespace optkern::detail
