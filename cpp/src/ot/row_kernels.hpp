// The inner loops of Sinkhorn: one row of K or M against vectors of the other side, in SIMD
// lanes of double (float rows are widened on load, so every sum is accumulated in double).
//
// Kernel domain (K = exp(-M/reg)): dot_rows (K_i . v for a few rows at once) and axpy_rows
// (acc += u_i K_i for the same rows), so that one pass over K per iteration updates both
// sides. Log domain: row_max, then row_exp (t_j = exp(G_j - M_ij / reg - max), kept in a row
// buffer, and their sum), whose buffer axpy_rows then folds into the column sums: one exp per
// entry and iteration.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/simd.hpp"
#include "common/simd_exp.hpp"
#include "optkern/common.hpp"

namespace optkern::detail {

using VecD = SimdVec<double, kSimdBytes>::type;
inline constexpr int kLanesD = kSimdBytes / int(sizeof(double));

// kLanesD elements of T as doubles, and back.
template <class T>
inline VecD load_d(const T* p) {
  if constexpr (sizeof(T) == sizeof(double)) {
    return load_vec<VecD>(p);
  } else {
    using VecF = typename SimdVec<float, kSimdBytes / 2>::type;
    return __builtin_convertvector(load_vec<VecF>(p), VecD);
  }
}

template <class T>
inline VecD store_from_d(T* p, VecD x) {  // stores T(x); returns the stored values as doubles
  if constexpr (sizeof(T) == sizeof(double)) {
    store_vec(p, x);
    return x;
  } else {
    using VecF = typename SimdVec<float, kSimdBytes / 2>::type;
    const VecF y = __builtin_convertvector(x, VecF);
    store_vec(p, y);
    return __builtin_convertvector(y, VecD);
  }
}

inline VecD broadcast(double x) {
  VecD v;
  for (int l = 0; l < kLanesD; ++l) v[l] = x;
  return v;
}

inline double hsum(VecD v) {
  double s = 0;
  for (int l = 0; l < kLanesD; ++l) s += v[l];
  return s;
}

inline double hmax(VecD v) {
  double s = v[0];
  for (int l = 1; l < kLanesD; ++l) s = v[l] > s ? v[l] : s;
  return s;
}

inline VecD vmax(VecD a, VecD b) { return select<VecD>(a > b, a, b); }

inline VecD vexp(VecD x) { return exp_vec<double, kSimdBytes>(x); }

// out[r] = rows[r] . v for R rows of length n.
template <class T, int R>
inline void dot_rows(const T* const* rows, const double* v, index_t n, double* out) {
  VecD acc[R];
  for (int r = 0; r < R; ++r) acc[r] = broadcast(0.0);
  index_t j = 0;
  for (; j + kLanesD <= n; j += kLanesD) {
    const VecD vj = load_vec<VecD>(v + j);
    for (int r = 0; r < R; ++r) acc[r] += load_d(rows[r] + j) * vj;
  }
  for (int r = 0; r < R; ++r) {
    double s = hsum(acc[r]);
    for (index_t k = j; k < n; ++k) s += double(rows[r][k]) * v[k];
    out[r] = s;
  }
}

// acc += sum_r coef[r] * rows[r] for R rows of length n (acc read and written once).
template <class T, int R>
inline void axpy_rows(const T* const* rows, const double* coef, double* acc, index_t n) {
  VecD c[R];
  for (int r = 0; r < R; ++r) c[r] = broadcast(coef[r]);
  index_t j = 0;
  for (; j + kLanesD <= n; j += kLanesD) {
    VecD s = load_vec<VecD>(acc + j);
    for (int r = 0; r < R; ++r) s += c[r] * load_d(rows[r] + j);
    store_vec(acc + j, s);
  }
  for (; j < n; ++j) {
    double s = acc[j];
    for (int r = 0; r < R; ++r) s += coef[r] * double(rows[r][j]);
    acc[j] = s;
  }
}

// Float32 K in the kernel-domain iteration, away from its convergence checks
// (sinkhorn_plain.cpp): the products and short sums run in float, twice the lanes of double
// and no conversion per entry (converting every entry to double made float32 slower than
// float64 while K sits in cache); longer sums run in double. Each lane sums at most
// kFloatBlock products in float before they are added in double.
using VecF = SimdVec<float, kSimdBytes>::type;
inline constexpr int kLanesF = kSimdBytes / int(sizeof(float));
inline constexpr int kFloatBlock = 8;

inline VecF broadcast_f(float x) {
  VecF v;
  for (int l = 0; l < kLanesF; ++l) v[l] = x;
  return v;
}

// lo += x's first kLanesD lanes and hi += its last ones, in double. The halves come from a
// union (register moves; a store of x read back as two half loads could miss store-to-load
// forwarding).
inline void add_widened(VecF x, VecD& lo, VecD& hi) {
  using Half = SimdVec<float, kSimdBytes / 2>::type;
  union {
    VecF whole;
    Half half[2];
  } lanes;
  lanes.whole = x;
  lo += __builtin_convertvector(lanes.half[0], VecD);
  hi += __builtin_convertvector(lanes.half[1], VecD);
}

// out[r] = rows[r] . v for R float rows of length n and v in float.
template <int R>
inline void dot_rows_f32(const float* const* rows, const float* v, index_t n, double* out) {
  VecD lo[R], hi[R];
  for (int r = 0; r < R; ++r) lo[r] = hi[r] = broadcast(0.0);
  index_t j = 0;
  while (j + kLanesF <= n) {
    VecF acc[R];
    for (int r = 0; r < R; ++r) acc[r] = broadcast_f(0.0f);
    for (int k = 0; k < kFloatBlock && j + kLanesF <= n; ++k, j += kLanesF) {
      const VecF vj = load_vec<VecF>(v + j);
      for (int r = 0; r < R; ++r) acc[r] += load_vec<VecF>(rows[r] + j) * vj;
    }
    for (int r = 0; r < R; ++r) add_widened(acc[r], lo[r], hi[r]);
  }
  for (int r = 0; r < R; ++r) {
    double s = hsum(lo[r] + hi[r]);
    for (index_t k = j; k < n; ++k) s += double(rows[r][k]) * double(v[k]);
    out[r] = s;
  }
}

// acc += sum_r coef[r] * rows[r] for R float rows: the R terms summed in float.
template <int R>
inline void axpy_rows_f32(const float* const* rows, const double* coef, double* acc, index_t n) {
  VecF c[R];
  for (int r = 0; r < R; ++r) c[r] = broadcast_f(float(coef[r]));
  index_t j = 0;
  for (; j + kLanesF <= n; j += kLanesF) {
    VecF t = c[0] * load_vec<VecF>(rows[0] + j);
    for (int r = 1; r < R; ++r) t += c[r] * load_vec<VecF>(rows[r] + j);
    VecD lo = load_vec<VecD>(acc + j), hi = load_vec<VecD>(acc + j + kLanesD);
    add_widened(t, lo, hi);
    store_vec(acc + j, lo);
    store_vec(acc + j + kLanesD, hi);
  }
  for (; j < n; ++j) {
    double s = acc[j];
    for (int r = 0; r < R; ++r) s += coef[r] * double(rows[r][j]);
    acc[j] = s;
  }
}

// max_j (G_j - M_j * inv_reg); -inf entries of G (zero-weight columns) never win.
template <class T>
inline double row_max(const T* M, const double* G, double inv_reg, index_t n) {
  const VecD s = broadcast(inv_reg);
  VecD m0 = broadcast(-std::numeric_limits<double>::infinity()), m1 = m0;
  index_t j = 0;
  for (; j + 2 * kLanesD <= n; j += 2 * kLanesD) {
    m0 = vmax(m0, load_vec<VecD>(G + j) - load_d(M + j) * s);
    m1 = vmax(m1, load_vec<VecD>(G + j + kLanesD) - load_d(M + j + kLanesD) * s);
  }
  for (; j + kLanesD <= n; j += kLanesD) m0 = vmax(m0, load_vec<VecD>(G + j) - load_d(M + j) * s);
  double best = hmax(vmax(m0, m1));
  for (; j < n; ++j) {
    const double y = G[j] - double(M[j]) * inv_reg;
    best = y > best ? y : best;
  }
  return best;
}

// sum_j exp(G_j - M_j * inv_reg - shift).
template <class T>
inline double row_sum_exp(const T* M, const double* G, double inv_reg, double shift, index_t n) {
  const VecD s = broadcast(inv_reg), sh = broadcast(shift);
  VecD a0 = broadcast(0.0), a1 = a0;
  index_t j = 0;
  for (; j + 2 * kLanesD <= n; j += 2 * kLanesD) {
    a0 += vexp(load_vec<VecD>(G + j) - load_d(M + j) * s - sh);
    a1 += vexp(load_vec<VecD>(G + j + kLanesD) - load_d(M + j + kLanesD) * s - sh);
  }
  for (; j + kLanesD <= n; j += kLanesD) a0 += vexp(load_vec<VecD>(G + j) - load_d(M + j) * s - sh);
  double sum = hsum(a0 + a1);
  for (; j < n; ++j) sum += std::exp(G[j] - double(M[j]) * inv_reg - shift);
  return sum;
}

// t_j = exp(G_j - M_j * inv_reg - shift) into t; returns their sum.
template <class T>
inline double row_exp(const T* M, const double* G, double inv_reg, double shift, double* t,
                      index_t n) {
  const VecD s = broadcast(inv_reg), sh = broadcast(shift);
  VecD a0 = broadcast(0.0), a1 = a0;
  index_t j = 0;
  for (; j + 2 * kLanesD <= n; j += 2 * kLanesD) {
    const VecD e0 = vexp(load_vec<VecD>(G + j) - load_d(M + j) * s - sh);
    const VecD e1 = vexp(load_vec<VecD>(G + j + kLanesD) - load_d(M + j + kLanesD) * s - sh);
    store_vec(t + j, e0);
    store_vec(t + j + kLanesD, e1);
    a0 += e0;
    a1 += e1;
  }
  for (; j + kLanesD <= n; j += kLanesD) {
    const VecD e = vexp(load_vec<VecD>(G + j) - load_d(M + j) * s - sh);
    store_vec(t + j, e);
    a0 += e;
  }
  double sum = hsum(a0 + a1);
  for (; j < n; ++j) {
    t[j] = std::exp(G[j] - double(M[j]) * inv_reg - shift);
    sum += t[j];
  }
  return sum;
}

// log sum_i exp(F_i * scale - M_ij * inv_reg) over the rows with a_i > 0, for one column j of
// the row-major m x n matrix M (strided: only for a column that needs it alone).
template <class T>
inline double column_lse(const T* M, index_t m, index_t n, index_t j, const double* F, double scale,
                         const double* a, double inv_reg) {
  double hi = -std::numeric_limits<double>::infinity();
  for (index_t i = 0; i < m; ++i)
    if (a[i] > 0) hi = std::max(hi, F[i] * scale - double(M[i * n + j]) * inv_reg);
  double sum = 0;
  for (index_t i = 0; i < m; ++i)
    if (a[i] > 0) sum += std::exp(F[i] * scale - double(M[i * n + j]) * inv_reg - hi);
  return hi + std::log(sum);
}

// The smallest and largest entry of a row.
template <class T>
inline void row_min_max(const T* M, index_t n, double* lo, double* hi) {
  const double inf = std::numeric_limits<double>::infinity();
  VecD vlo = broadcast(inf), vhi = broadcast(-inf);
  index_t j = 0;
  for (; j + kLanesD <= n; j += kLanesD) {
    const VecD x = load_d(M + j);
    vlo = select<VecD>(x < vlo, x, vlo);
    vhi = vmax(vhi, x);
  }
  double l = -hmax(-vlo), h = hmax(vhi);
  for (; j < n; ++j) {
    const double x = double(M[j]);
    l = x < l ? x : l;
    h = x > h ? x : h;
  }
  *lo = l;
  *hi = h;
}

// colmin_j = min(colmin_j, M_j - shift).
template <class T>
inline void fold_column_min(const T* M, double shift, double* colmin, index_t n) {
  const VecD sh = broadcast(shift);
  index_t j = 0;
  for (; j + kLanesD <= n; j += kLanesD) {
    const VecD x = load_d(M + j) - sh, c = load_vec<VecD>(colmin + j);
    store_vec(colmin + j, select<VecD>(x < c, x, c));
  }
  for (; j < n; ++j) {
    const double x = double(M[j]) - shift;
    colmin[j] = x < colmin[j] ? x : colmin[j];
  }
}

// max_j (M_j * inv_reg - F - G_j): the largest exponent exp_row below will negate.
template <class T>
inline double row_max_exponent(const T* M, double F, const double* G, double inv_reg, index_t n) {
  const VecD s = broadcast(inv_reg), f = broadcast(F);
  VecD hi = broadcast(-std::numeric_limits<double>::infinity());
  index_t j = 0;
  for (; j + kLanesD <= n; j += kLanesD)
    hi = vmax(hi, load_d(M + j) * s - f - load_vec<VecD>(G + j));
  double h = hmax(hi);
  for (; j < n; ++j) {
    const double x = double(M[j]) * inv_reg - F - G[j];
    h = x > h ? x : h;
  }
  return h;
}

// out_j = T(exp(F + G_j - M_j * inv_reg)).
template <class T>
inline void exp_row(const T* M, double F, const double* G, double inv_reg, T* out, index_t n) {
  const VecD s = broadcast(inv_reg), f = broadcast(F);
  index_t j = 0;
  for (; j + kLanesD <= n; j += kLanesD)
    store_from_d(out + j, vexp(f + load_vec<VecD>(G + j) - load_d(M + j) * s));
  for (; j < n; ++j) out[j] = T(std::exp(F + G[j] - double(M[j]) * inv_reg));
}

// Writes P_j = T(exp(F + G_j - M_j * inv_reg)) and returns the row's sum; adds the stored
// values to colsum and M_j * P_j to *cost (all in double).
template <class T>
inline double plan_row_log(const T* M, double F, const double* G, double inv_reg, T* P,
                           double* colsum, double* cost, index_t n) {
  const VecD s = broadcast(inv_reg), f = broadcast(F);
  VecD rs = broadcast(0.0), cs = rs;
  index_t j = 0;
  for (; j + kLanesD <= n; j += kLanesD) {
    const VecD mj = load_d(M + j);
    const VecD p = store_from_d(P + j, vexp(f + load_vec<VecD>(G + j) - mj * s));
    rs += p;
    cs += mj * p;
    store_vec(colsum + j, load_vec<VecD>(colsum + j) + p);
  }
  double row = hsum(rs), c = hsum(cs);
  for (; j < n; ++j) {
    const T p = T(std::exp(F + G[j] - double(M[j]) * inv_reg));
    P[j] = p;
    row += double(p);
    c += double(M[j]) * double(p);
    colsum[j] += double(p);
  }
  *cost += c;
  return row;
}

// Overwrites the kernel row K_j with P_j = T(u * K_j * v_j); otherwise as plan_row_log.
template <class T>
inline double plan_row_plain(T* KP, double u, const double* v, const T* M, double* colsum,
                             double* cost, index_t n) {
  const VecD uu = broadcast(u);
  VecD rs = broadcast(0.0), cs = rs;
  index_t j = 0;
  for (; j + kLanesD <= n; j += kLanesD) {
    const VecD p = store_from_d(KP + j, uu * load_d(KP + j) * load_vec<VecD>(v + j));
    rs += p;
    cs += load_d(M + j) * p;
    store_vec(colsum + j, load_vec<VecD>(colsum + j) + p);
  }
  double row = hsum(rs), c = hsum(cs);
  for (; j < n; ++j) {
    const T p = T(u * double(KP[j]) * v[j]);
    KP[j] = p;
    row += double(p);
    c += double(M[j]) * double(p);
    colsum[j] += double(p);
  }
  *cost += c;
  return row;
}

}  // namespace optkern::detail
