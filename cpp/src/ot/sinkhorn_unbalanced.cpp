// Unbalanced Sinkhorn in the log domain (optkern/ot/unbalanced.hpp). One problem per thread;
// each iteration is one pass over M along its rows with one vectorised exp per entry: the row
// log-sum-exps, whose stabilised exponentials also give the column sums (as in
// sinkhorn_log.cpp, against a running scale since the rows are not normalised here).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "common/parallel_items.hpp"
#include "optkern/ot.hpp"
#include "optkern/threads.hpp"
#include "ot/row_kernels.hpp"
#include "ot/sinkhorn_solver.hpp"

namespace optkern {
namespace {

double shrink(double rho, double reg) {
  return std::isinf(rho) ? 1.0 : rho / (rho + reg);
}

template <class T>
UnbalancedStatus solve_one(index_t m, index_t n, const T* M, const T* a, const T* b,
                           const UnbalancedOptions& o, T* plan, double* F, double* G,
                           std::vector<double>& work, Interrupt* interrupt) {
  const double ninf = -std::numeric_limits<double>::infinity();
  const double inv_reg = 1.0 / o.reg;
  const double fa = shrink(o.rho_a, o.reg), fb = shrink(o.rho_b, o.reg);
  const bool kl = o.reg_type == UnbalancedRegType::kl;
  work.assign(std::size_t(4 * (m + n)), 0.0);
  double* la = work.data();  // log a_i (-inf at zero weights)
  double* lb = la + m;
  double* Gt = lb + n;       // log c's column factor + G_j (-inf at zero weights)
  double* cmax = Gt + n;
  double* csum = cmax + n;
  double* Ft = csum + n;     // log c's row factor + F_i
  for (index_t i = 0; i < m; ++i) la[i] = a[i] > 0 ? std::log(double(a[i])) : ninf;
  for (index_t j = 0; j < n; ++j) lb[j] = b[j] > 0 ? std::log(double(b[j])) : ninf;
  for (index_t i = 0; i < m; ++i) F[i] = 0;
  for (index_t j = 0; j < n; ++j) {
    G[j] = 0;
    Gt[j] = b[j] > 0 ? (kl ? lb[j] : 0.0) : ninf;
  }
  UnbalancedStatus st;
  std::vector<double> t(static_cast<std::size_t>(n)), wa(static_cast<std::size_t>(m));
  for (index_t i = 0; i < m; ++i) wa[std::size_t(i)] = double(a[i]);
  double* acc = cmax;  // column sums sum_i exp(Ft_i + hi_i - S) t_ij (reuses the buffer)
  (void)csum;
  for (int it = 1; it <= o.max_iter; ++it) {
    if (detail::poll(interrupt)) return st;
    double step = 0;
    // Rows: F_i = fa (log a_i - LSE_j(log c_ij + G_j - M_ij / reg)); c_ij = c_i c_j. Row i's
    // stabilised exponentials t_j = exp(Gt_j - M_ij / reg - hi_i) also give the column sums:
    // exp(Ft_i + Gt_j - M_ij / reg) = exp(Ft_i + hi_i) t_j, accumulated against a running
    // scale S (rescaled when a row exceeds it, as online softmax does), so each entry costs
    // one exp.
    std::fill(acc, acc + n, 0.0);
    double S = ninf;
    for (index_t i = 0; i < m; ++i) {
      if (!(a[i] > 0)) continue;
      const T* row = M + i * n;
      const double hi = detail::row_max(row, Gt, inv_reg, n);
      const double sum = detail::row_exp(row, Gt, inv_reg, hi, t.data(), n);
      const double ci = kl ? la[i] : 0.0;
      const double Fn = fa * (la[i] - ci - hi - std::log(sum));
      step = std::max(step, std::abs(Fn - F[i]));
      F[i] = Fn;
      Ft[i] = ci + Fn;
      const double lw = Ft[i] + hi;
      if (lw > S) {
        const double shrink_by = std::exp(S - lw);  // 0 on the first row
        for (index_t j = 0; j < n; ++j) acc[j] *= shrink_by;
        S = lw;
      }
      const double w = std::exp(lw - S);
      const double* rows[1] = {t.data()};
      detail::axpy_rows<double, 1>(rows, &w, acc, n);
    }
    // Columns: G_j = fb (log b_j - LSE_i(log c_ij + F_i - M_ij / reg)), where
    // LSE_i(Ft_i - M_ij / reg) = log acc_j + S - Gt_j; a column whose sum underflowed gets an
    // exact (strided) log-sum-exp.
    for (index_t j = 0; j < n; ++j) {
      if (!(b[j] > 0)) continue;
      const double cj = kl ? lb[j] : 0.0;
      const double lse = acc[j] > detail::step::kStarvedColumn && std::isfinite(Gt[j])
                             ? std::log(acc[j]) + S - Gt[j]
                             : detail::column_lse(M, m, n, j, Ft, 1.0, wa.data(), inv_reg);
      const double Gn = fb * (lb[j] - cj - lse);
      step = std::max(step, std::abs(Gn - G[j]));
      G[j] = Gn;
      Gt[j] = cj + Gn;
    }
    st.n_iter = it;
    st.step = step;
    if (!(step > o.tol)) {  // also stops on NaN (cannot happen for finite input)
      st.converged = step <= o.tol;
      break;
    }
  }
  // The plan: c_i c_j exp(F_i + G_j - M_ij / reg), zero rows and columns at zero weights.
  for (index_t i = 0; i < m; ++i) {
    T* out = plan + i * n;
    if (!(a[i] > 0)) {
      std::fill(out, out + n, T(0));
      F[i] = 0;
      continue;
    }
    detail::exp_row(M + i * n, Ft[i], Gt, inv_reg, out, n);
  }
  for (index_t j = 0; j < n; ++j)
    if (!(b[j] > 0)) G[j] = 0;
  return st;
}

}  // namespace

template <class T>
void sinkhorn_unbalanced(index_t batch, index_t m, index_t n, const T* M, index_t M_stride,
                         const T* a, index_t a_stride, const T* b, index_t b_stride,
                         const UnbalancedOptions& o, T* plan, double* F, double* G,
                         UnbalancedStatus* status, Interrupt* interrupt) {
  require(batch >= 0 && m >= 1 && n >= 1, "M", "sizes must be >= 1");
  require(o.reg > 0 && std::isfinite(o.reg), "reg", "must be positive and finite");
  require(o.rho_a > 0 && !std::isnan(o.rho_a), "reg_m", "must be positive (or +inf)");
  require(o.rho_b > 0 && !std::isnan(o.rho_b), "reg_m", "must be positive (or +inf)");
  require(o.tol >= 0, "tol", "must be >= 0");
  require(o.max_iter >= 1, "max_iter", "must be >= 1");
  const int threads = o.num_threads > 0 ? o.num_threads : num_threads();
  detail::parallel_items(
      batch, threads, 1, interrupt, [] { return std::vector<double>(); },
      [&](std::vector<double>& work, index_t k) {
        status[k] = solve_one(m, n, M + k * M_stride, a + k * a_stride, b + k * b_stride, o,
                              plan + k * m * n, F + k * m, G + k * n, work, interrupt);
      });
  detail::throw_if_stopped(interrupt);
}

template void sinkhorn_unbalanced<float>(index_t, index_t, index_t, const float*, index_t,
                                         const float*, index_t, const float*, index_t,
                                         const UnbalancedOptions&, float*, double*, double*,
                                         UnbalancedStatus*, Interrupt*);
template void sinkhorn_unbalanced<double>(index_t, index_t, index_t, const double*, index_t,
                                          const double*, index_t, const double*, index_t,
                                          const UnbalancedOptions&, double*, double*, double*,
                                          UnbalancedStatus*, Interrupt*);

}  // namespace optkern
