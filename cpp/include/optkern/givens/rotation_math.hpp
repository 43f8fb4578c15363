// The scalar formulas of the L1 Givens coordinate descent (Frerix & Bruna, ICML 2019), shared
// by the CPU and the CUDA kernels so that both take the same decisions from the same numbers.
//
// Conventions. G(i, j, theta) is the identity except G_ii = G_jj = cos theta, G_ij = sin theta,
// G_ji = -sin theta (paper eq. 1). A step replaces U by G^T U, which changes rows i and j only:
//   row_i <- cos theta * row_i - sin theta * row_j,   row_j <- sin theta * row_i + cos theta * row_j,
// i.e. every column (a, b) = (U_ik, U_jk) turns counter-clockwise by theta.
//
// The L1 norm of the rotated 2 x d block is g(theta) = sum_k r_k h(theta + phi_k) with
// h(t) = |cos t| + |sin t| (period pi/2, concave between its kinks). Its minimum lies where some
// rotated column sits on an axis (Proposition 1), so the candidates are one "breakpoint" per
// column, taken in (-pi/4, pi/4] (the smallest rotation of each quarter-turn class).
//
// No transcendental per column: a column is turned by quarter turns into the sector
// -x <= y < x (x > 0), and its breakpoint is theta_k = atan(t_k) with the tangent
// t_k = -y/x in (-1, 1]; candidates are ordered by t_k, which is monotone in theta_k.
#pragma once

#include <math.h>  // fabs, fma, sqrt in the global namespace, as in CUDA device code

#include <cmath>
#include <limits>

#if defined(__CUDACC__)
#define OPTKERN_HD __host__ __device__ inline
#else
#define OPTKERN_HD inline
#endif

namespace optkern::givens {

// A column (a, b) in its sector: x > 0 unless the column is zero, -x <= y < x, tangent t = -y/x.
struct SectorPoint {
  double x, y, t;
};

// Key of a zero column: larger than every tangent, so such columns sort last and are skipped.
inline constexpr double kZeroColumnKey = 2.0;

OPTKERN_HD SectorPoint sector_point(double a, double b) {
  const double fa = fabs(a), fb = fabs(b);
  SectorPoint p;
  if (fa > fb) {  // turn by 0 (a > 0) or by a half turn (a < 0): (|a|, sign(a) b)
    p.x = fa;
    p.y = a > 0 ? b : -b;
    p.t = -b / a;  // equals -y/x bit for bit; |t| < 1 since |b| < |a| (IEEE division)
  } else if (fb > fa) {  // turn by a quarter: (|b|, -sign(b) a)
    p.x = fb;
    p.y = b > 0 ? -a : a;
    p.t = a / b;
  } else {  // |a| == |b|: the boundary y = -x of the sector, t = 1 (theta = pi/4)
    p.x = fa;
    p.y = -fa;
    p.t = fa > 0 ? 1.0 : kZeroColumnKey;
  }
  return p;
}

// g at the breakpoint with tangent t, from the sums X = sum x_k, Y = sum y_k over all columns
// and Xp, Yp over the columns whose tangent is <= t. Columns with t_k <= t contribute
// (x + y) cos + (x - y) sin, the others (x - y) cos - (x + y) sin, so
//   g = A cos theta + B sin theta = (A + B t) cos theta,  A = X - Y + 2 Yp,  B = 2 Xp - X - Y,
// with cos theta = 1/sqrt(1 + t^2) (breakpoint_cos). Explicit fma keeps the CPU and the GPU on
// the same rounding.
OPTKERN_HD double rotated_l1(double X, double Y, double Xp, double Yp, double t, double cos) {
  const double A = fma(2.0, Yp, X - Y);
  const double B = fma(2.0, Xp, -(X + Y));
  return fma(B, t, A) * cos;
}

OPTKERN_HD double breakpoint_cos(double t) { return 1.0 / sqrt(fma(t, t, 1.0)); }

// Decreases at or below this fraction of the block's L1 norm are rounding noise: a pair at its
// optimum (or with nothing to gain) computes a "decrease" of a few ulps of g. They count as 0,
// and the descent stops when no pair has a positive decrease. eps is the input's precision.
OPTKERN_HD double noise_fraction(double d, double eps) { return 8.0 * sqrt(d) * eps; }

template <class T>
OPTKERN_HD double machine_epsilon() {
  return sizeof(T) == 4 ? 1.1920928955078125e-07 : 2.220446049250313e-16;
}

// cos and sin of theta = atan(t), without a transcendental.
OPTKERN_HD void rotation_from_tangent(double t, double& c, double& s) {
  c = breakpoint_cos(t);
  s = t * c;
}

// (a, b) <- (c a - s b, s a + c b): one column of G^T U, rounded once to T.
template <class T>
OPTKERN_HD void rotate_column(double c, double s, T& a, T& b) {
  const double x = a, y = b;
  a = T(fma(c, x, -(s * y)));
  b = T(fma(s, x, c * y));
}

// Pair m of the 2(d-2) + 1 whose scores change when rows i and j are rotated: (r, i) for the
// d - 2 other rows r in increasing order, then (r, j), then (i, j); returned as p < q.
template <class I>
OPTKERN_HD void touched_pair(I m, I i, I j, I d, I& p, I& q) {
  const I lo = i < j ? i : j, hi = i < j ? j : i, others = d - 2;
  if (m == 2 * others) {
    p = lo;
    q = hi;
    return;
  }
  const I partner = m < others ? i : j;
  I r = m < others ? m : m - others;
  if (r >= lo) ++r;
  if (r >= hi) ++r;
  p = r < partner ? r : partner;
  q = r < partner ? partner : r;
}

}  // namespace optkern::givens
