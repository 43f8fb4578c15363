// The per-column pass of the L1 block search (block_search.hpp, step 1), four columns at a
// time: each column's sector coordinates (x, y), tangent and bucket; the bucket's sums of
// (x, y, rho, |y|) grow by the column's, and the column joins its bucket's list.
//
// rho = max(x, (x + |y|)/sqrt 2) is a lower bound of r = hypot(x, y) within 6% of it (exact
// on the axes and the diagonal) that needs no sqrt; the bounds only need rho <= r.
// The block's L1 norm is the sum over buckets of x + |y|.
//
// Written with GCC vector extensions because the auto-vectoriser gives up on the selects and
// the division under default IEEE flags. The operations are the IEEE ones of sector_point()
// (rotation_math.hpp), so a column gets the same tangent and bucket in the vector body and
// the scalar tail, and the exact sweep can recompute its tangent.
#pragma once

#include <algorithm>
#include <cmath>

#include "optkern/common.hpp"
#include "optkern/givens/rotation_math.hpp"

namespace optkern::givens::detail {

typedef double v4d __attribute__((vector_size(32)));
typedef long long v4l __attribute__((vector_size(32)));
typedef int v4i __attribute__((vector_size(16)));
typedef float v4f __attribute__((vector_size(16)));

inline constexpr double kHalfSqrt2 = 0.70710678118654752440;

inline v4d load4(const double* p) {
  v4d v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

inline v4d load4(const float* p) {
  v4f v;
  __builtin_memcpy(&v, p, sizeof v);
  return __builtin_convertvector(v, v4d);
}

inline void add4(double* p, v4d v) {
  v4d s;
  __builtin_memcpy(&s, p, sizeof s);
  s += v;
  __builtin_memcpy(p, &s, sizeof s);
}

// Bucket of a tangent: floor((t + 1) nb / 2) is monotone in t; t = 1 joins the last bucket and
// zero columns (t = kZeroColumnKey) get the extra bucket nb.
inline int bucket_of(double t, int nb, double half) {
  const int q = int((t + 1.0) * half);
  return t > 1.0 ? nb : std::min(q, nb - 1);
}

// sums: 4 doubles per bucket for nb + 1 buckets, zeroed by the caller; head: nb + 1 list heads,
// -1 by the caller; next: d links. Bucket lists hold column indices.
template <class T>
void column_pass(const T* a, const T* b, index_t d, int nb, int* bucket, double* sums,
                 int* head, int* next) {
  const double half = 0.5 * nb;
  const v4d one = {1, 1, 1, 1}, zero = {0, 0, 0, 0};
  const v4i last = {nb - 1, nb - 1, nb - 1, nb - 1}, extra = {nb, nb, nb, nb};
  const v4l magnitude = {0x7fffffffffffffffLL, 0x7fffffffffffffffLL, 0x7fffffffffffffffLL,
                         0x7fffffffffffffffLL};
  index_t k = 0;
  for (; k + 4 <= d; k += 4) {
    const v4d av = load4(a + k), bv = load4(b + k);
    const v4d fa = (v4d)((v4l)av & magnitude), fb = (v4d)((v4l)bv & magnitude);
    const v4l ga = fa > fb, gb = fb > fa;
    const v4d num = ga ? -bv : av;
    const v4d den = ga ? av : (gb ? bv : one);
    const v4d t = (ga | gb) ? num / den : (fa > zero ? one : one + one);
    const v4d x = ga ? fa : fb;
    const v4d y = ga ? (av > zero ? bv : -bv) : (gb ? (bv > zero ? -av : av) : -fa);
    const v4d ay = (v4d)((v4l)y & magnitude);
    const v4d diag = (x + ay) * kHalfSqrt2;
    const v4d rho = diag > x ? diag : x;
    v4i q = __builtin_convertvector((t + one) * half, v4i);
    q = q < last ? q : last;
    q = __builtin_convertvector(t > one, v4i) ? extra : q;
    __builtin_memcpy(bucket + k, &q, sizeof q);
    for (int l = 0; l < 4; ++l) {
      const v4d column = {x[l], y[l], rho[l], ay[l]};
      add4(sums + 4 * q[l], column);
      next[k + l] = head[q[l]];
      head[q[l]] = int(k + l);
    }
  }
  for (; k < d; ++k) {
    const SectorPoint p = sector_point(double(a[k]), double(b[k]));
    const int q = bucket_of(p.t, nb, half);
    bucket[k] = q;
    const double ay = std::fabs(p.y);
    const v4d column = {p.x, p.y, std::max(p.x, (p.x + ay) * kHalfSqrt2), ay};
    add4(sums + 4 * q, column);
    next[k] = head[q];
    head[q] = int(k);
  }
}

}  // namespace optkern::givens::detail
