// The per-problem logic of Sinkhorn that the CPU solver (cpp/src/ot/sinkhorn*.cpp) and the CUDA
// kernel (cuda/src/ot/sinkhorn.cu) share: every constant, the checks of the marginals, the
// choice of method, the scalar updates of one row or column potential, the stopping rule and
// the final gauge and status. Each side keeps only its own way of going over the rows and
// columns (the CPU's SIMD row kernels and thread teams; the GPU's blocks and grid) and of
// reducing over its threads; what is computed per entry, and every threshold, is here.
#pragma once

#include <cmath>
#include <limits>

#include "optkern/detail/hd.hpp"
#include "optkern/ot.hpp"

namespace optkern::detail::sinkhorn_step {

// |sum a - sum b| tolerated relative to max(sum a, sum b); b is then given the mass of a.
// (Python checks first, for its messages, with this value: optkern._core.ot.MASS_RTOL.)
inline constexpr double kMassRtol = 1e-6;

// The largest max|M| / reg accepted (Python checks it: optkern._core.ot.MAX_COST_OVER_REG):
// the iterations and the plan exp(f_i + g_j - M_ij / reg) carry a rounding error of about
// eps max|M| / reg in their exponents; beyond 1e15 (0.2) the plan's rows outweigh the mass.
inline constexpr double kMaxCostOverReg = 1e15;

// The backward: a Cholesky pivot of the Schur complement counts as zero below
// kPivotRtol * max(k, 16) times its diagonal entry (k the system's size). Rounding in the
// elimination leaves about k eps there where the exact pivot is zero (a disconnected
// support). The torch adapter's device backward uses it too (optkern._core.ot.PIVOT_RTOL).
inline constexpr double kPivotRtol = 4.0 * std::numeric_limits<double>::epsilon();

// A column sum of the plan below this (log domain) has lost its accuracy to underflow; the
// column's potential is then recomputed by an exact log-sum-exp over its entries.
inline constexpr double kStarvedColumn = 1e-280;

// The largest range of the shifted cost max_ij(M_ij - alpha_i - beta_j) / reg for which the
// kernel-domain method is chosen: K then holds no subnormal or zero entry in T (float: e^-80 =
// 1.8e-35; double: e^-300), and the scalings stay far inside the range of double.
template <class T>
OPTKERN_HD constexpr double plain_range_limit() {
  return sizeof(T) == sizeof(float) ? 80.0 : 300.0;
}

// The largest marginal error of a converged plan: tol * mass, plus what rounding the plan to T
// can add (each entry within half an ulp, so a row or column sum within u_T of its weight).
template <class T>
OPTKERN_HD double converged_bound(double tol, double mass, double heaviest_weight) {
  return tol * mass + 0.5 * double(std::numeric_limits<T>::epsilon()) * heaviest_weight;
}

inline constexpr double kInfinity = std::numeric_limits<double>::infinity();

// ---- Marginals ----------------------------------------------------------------------------

// A weight must be finite and >= 0.
OPTKERN_HD inline bool weight_ok(double x) { return std::isfinite(x) && x >= 0; }

// Whether the total masses agree closely enough for b to be rescaled to the mass of a.
OPTKERN_HD inline bool masses_agree(double sa, double sb) {
  return std::fabs(sa - sb) <= kMassRtol * (sa > sb ? sa : sb);
}

// log w, -inf for a zero weight.
OPTKERN_HD inline double log_weight(double w) { return w > 0 ? std::log(w) : -kInfinity; }

// ---- Method --------------------------------------------------------------------------------

// Whether the kernel domain needs the shifts alpha, beta (for plain, or for automatic's test).
OPTKERN_HD inline bool needs_shifts(SinkhornMethod requested) {
  return requested != SinkhornMethod::log;
}

// The method for a requested one, given the shifted range (computed only for automatic).
template <class T>
OPTKERN_HD SinkhornMethod choose_method(SinkhornMethod requested, double shifted_range) {
  if (requested != SinkhornMethod::automatic) return requested;
  return shifted_range <= plain_range_limit<T>() ? SinkhornMethod::plain : SinkhornMethod::log;
}

// ---- Iterations ----------------------------------------------------------------------------

// Whether iteration `iter` (from 1) measures the marginal error of the previous iterate.
OPTKERN_HD inline bool check_iteration(double tol, int iter, int check_every) {
  return tol > 0 && iter > 1 && iter % check_every == 0;
}

// The stopping rule: the largest marginal error is at most tol * mass.
OPTKERN_HD inline bool converged(double error, double tol, double mass) {
  return error <= tol * mass;
}

// Kernel domain, start: v_j = exp(x) with x = init_g_j / reg - beta_j - top (top: the largest
// such value over the weighted columns, so that max v = 1), or x = 0 without init; 0 at b_j = 0.
OPTKERN_HD inline double initial_v(double b, double x) { return b > 0 ? std::exp(x) : 0.0; }

// Log domain, start: G_j = init_g_j / reg (or 0), -inf at b_j = 0; F_i = 0, -inf at a_i = 0.
OPTKERN_HD inline double initial_G(double b, double init_G) { return b > 0 ? init_G : -kInfinity; }
OPTKERN_HD inline double initial_F(double a) { return a > 0 ? 0.0 : -kInfinity; }

// Kernel domain, row i: u_i = a_i / s with s = (K v)_i. The old iterate's row sum is
// u_i^old s, so a check iteration folds |u_i^old s - a_i| into err. A u_i that is not a
// positive finite number for a_i > 0 (s overflowed or underflowed, or a subnormal a_i gave
// u_i = 0, which would make log u = -inf) sets breakdown: the log domain takes over.
OPTKERN_HD inline double plain_row(double a, double s, double u_old, bool check, double* err,
                                   bool* breakdown) {
  const double u = a > 0 ? a / s : 0.0;
  *breakdown = *breakdown || (a > 0 && !(s > 0 && u > 0 && u < kInfinity));
  if (check) {
    const double e = std::fabs(u_old * s - a);
    *err = *err < e ? e : *err;  // as std::max: a NaN e is ignored
  }
  return u;
}

// Kernel domain, column j: v_j = b_j / s with s = (K^T u)_j, breakdown as for the rows.
OPTKERN_HD inline double plain_column(double b, double s, bool* breakdown) {
  const double v = b > 0 ? b / s : 0.0;
  *breakdown = *breakdown || (b > 0 && !(v > 0 && v < kInfinity));
  return v;
}

// Log domain, row i: F_i = log a_i - LSE_j(G_j - M_ij / reg), the LSE given as hi + log(sum)
// (hi: the row's largest exponent, sum: of the exponentials shifted by hi). The old iterate's
// row sum is a_i exp(F_old - F_new) (its columns are exact): a check iteration folds its
// error into err.
OPTKERN_HD inline double log_row(double a, double log_a, double hi, double sum, double F_old,
                                 bool check, double* err) {
  const double F = log_a - hi - std::log(sum);
  if (check) {
    const double e = a * std::fabs(std::expm1(F_old - F));
    *err = *err < e ? e : *err;  // as std::max: a NaN e is ignored
  }
  return F;
}

// Log domain, column j (b_j > 0): G_j += log b_j - log s_j, s_j the column sum of the plan for
// the new F and the old G; a starved column (s_j underflowed) gets log b_j - LSE_i(F_i -
// M_ij / reg) from exact_lse(), called only then.
template <class ExactLse>
OPTKERN_HD double log_column(double G, double log_b, double s, ExactLse exact_lse) {
  return s > kStarvedColumn ? G + log_b - std::log(s) : log_b - exact_lse();
}

// Kernel domain to log domain: G_j = log v_j + beta_j / reg from a finite v_j > 0, `fallback`
// for a column whose v_j left the range, -inf at b_j = 0.
OPTKERN_HD inline double rescued_G(double b, double v, double col_shift, double fallback) {
  if (!(b > 0)) return -kInfinity;
  return v > 0 && v < kInfinity ? std::log(v) + col_shift : fallback;
}

// ---- Final pass ----------------------------------------------------------------------------

// Kernel domain: the log-domain potential log v_j + beta_j / reg (-inf at b_j = 0), and
// likewise F_i = log u_i + alpha_i / reg.
OPTKERN_HD inline double log_scaling(double w, double v, double shift) {
  return w > 0 ? std::log(v) + shift : -kInfinity;
}

// Sums over the rows and columns that fix the gauge and give the status; each side adds its
// rows' and columns' terms, reduces the fields over its threads (sums, and maxima for
// error and heaviest) and calls gauge_shift() and write_status().
struct FinalSums {
  double af = 0, bg = 0;         // <a, f> and <b, g> over the positive weights
  double error = 0;              // max |row or column sum of the plan - weight|
  double total = 0;              // sum of the plan
  double heaviest = 0;           // max weight

  OPTKERN_HD void add_row(double a, double f, double row_sum) {
    if (a > 0) af += a * f;
    const double e = std::fabs(row_sum - a);
    error = error < e ? e : error;
    total += row_sum;
    heaviest = heaviest < a ? a : heaviest;
  }
  OPTKERN_HD void add_column(double b, double g, double col_sum) {
    if (b > 0) bg += b * g;
    const double e = std::fabs(col_sum - b);
    error = error < e ? e : error;
    heaviest = heaviest < b ? b : heaviest;
  }
};

// The gauge <a, f> = <b, g>: f += shift and g -= shift.
OPTKERN_HD inline double gauge_shift(double bg, double af, double mass) {
  return (bg - af) / (2 * mass);
}

// The status of a solved problem. fr = <f, P 1> and gc = <g, P^T 1> in the final gauge: the
// entropic value <M,P> + reg <P, log P - 1> with log P_ij = (f_i + g_j - M_ij) / reg.
template <class T, class Status>
OPTKERN_HD void write_status(Status& s, double reg, double tol, double mass, int iter,
                             SinkhornMethod method, const FinalSums& sums, double cost, double fr,
                             double gc) {
  s.n_iter = iter;
  s.marginal_error = sums.error;
  s.cost = cost;
  s.value = fr + gc - reg * sums.total;
  s.converged = sums.error <= converged_bound<T>(tol, mass, sums.heaviest);
  s.method = method;
}

}  // namespace optkern::detail::sinkhorn_step
