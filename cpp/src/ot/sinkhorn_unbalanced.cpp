// Unbalanced Sinkhorn (optkern/ot/unbalanced.hpp). One problem per thread.
// Kernel domain: K = c exp(-M / reg) once, then per iteration one pass over K for the row
// products K v and one for the column sums K^T u (no exp). Log domain: one pass over M along
// its rows with one vectorised exp per entry, the row log-sum-exps, whose stabilised
// exponentials also give the column sums (as in sinkhorn_log.cpp, against a running scale
// since the rows are not normalised here).
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
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

// What both domains read: the exponents of the two updates and the log weights.
struct Problem {
  index_t m, n;
  double inv_reg, fa, fb;  // 1 / reg and rho / (rho + reg) per side (1 for a hard marginal)
  bool kl;                 // c = a b^T (else c = 1)
  const double* la;        // log a_i, -inf at zero weights
  const double* lb;
};

// Whether the kernel domain can hold K = c exp(-M / reg) without a subnormal or zero entry
// (for positive weights) and its scalings stay inside double's range: the exponents of K span
// at most the limit the balanced solver uses for double.
template <class T>
bool plain_fits(const Problem& p, const T* M) {
  double worst = 0;
  for (index_t k = 0; k < p.m * p.n; ++k) worst = std::max(worst, std::fabs(double(M[k])));
  worst *= p.inv_reg;
  if (p.kl) {
    double la = 0, lb = 0;
    for (index_t i = 0; i < p.m; ++i) la = std::isfinite(p.la[i]) ? std::max(la, -p.la[i]) : la;
    for (index_t j = 0; j < p.n; ++j) lb = std::isfinite(p.lb[j]) ? std::max(lb, -p.lb[j]) : lb;
    worst += la + lb;
  }
  return worst <= detail::step::plain_range_limit<double>();
}

// The kernel-domain iteration from the log-scalings F = log u, G = log v (updated in place).
// Returns true when it finished (converged or out of iterations, counted in st), false when a
// scaling left the floating-point range: F, G then hold the last finite iterate, and the log
// domain goes on from there. K (m x n, double) is kept in `kernel`.
template <class T>
bool solve_plain(const Problem& p, const T* M, const T* a, const T* b,
                 const UnbalancedOptions& o, T* plan, double* F, double* G,
                 std::vector<double>& kernel, UnbalancedStatus& st, Interrupt* interrupt) {
  const index_t m = p.m, n = p.n;
  kernel.resize(std::size_t(m * n));
  std::vector<double> u(static_cast<std::size_t>(m)), v(static_cast<std::size_t>(n)),
      Ktu(static_cast<std::size_t>(n));
  // K_ij = exp(c_i + c_j - M_ij / reg), the column factors -inf at zero weights (K = 0).
  std::vector<double> cols(static_cast<std::size_t>(n));
  for (index_t j = 0; j < n; ++j) cols[std::size_t(j)] = p.kl || !(b[j] > 0) ? p.lb[j] : 0.0;
  for (index_t i = 0; i < m; ++i) {
    double* Ki = kernel.data() + i * n;
    if (!(a[i] > 0)) {
      std::fill(Ki, Ki + n, 0.0);
    } else if constexpr (std::is_same_v<T, double>) {
      detail::exp_row(M + i * n, p.kl ? p.la[i] : 0.0, cols.data(), p.inv_reg, Ki, n);
    } else {
      const double ci = p.kl ? p.la[i] : 0.0;
      for (index_t j = 0; j < n; ++j)
        Ki[j] = std::exp(ci + cols[std::size_t(j)] - double(M[i * n + j]) * p.inv_reg);
    }
    u[std::size_t(i)] = a[i] > 0 ? std::exp(F[i]) : 0.0;
  }
  for (index_t j = 0; j < n; ++j) v[std::size_t(j)] = b[j] > 0 ? std::exp(G[j]) : 0.0;
  for (int it = st.n_iter + 1; it <= o.max_iter; ++it) {
    if (detail::poll(interrupt)) return true;
    double step = 0;
    // Rows: u_i = (a_i / (K v)_i)^fa, and at once (the rows still in cache) the column sums
    // K^T u: one pass over K per iteration, four rows at a time.
    std::fill(Ktu.begin(), Ktu.end(), 0.0);
    for (index_t i = 0; i < m; i += 4) {
      const int count = int(std::min<index_t>(4, m - i));
      const double* rows[4];
      for (int r = 0; r < 4; ++r) rows[r] = &kernel[std::size_t((i + std::min(r, count - 1)) * n)];
      double dots[4], coef[4] = {0, 0, 0, 0};
      detail::dot_rows<double, 4>(rows, v.data(), n, dots);
      for (int r = 0; r < count; ++r) {
        const index_t row = i + r;
        if (!(a[row] > 0)) continue;
        const double Fn = p.fa * (p.la[row] - std::log(dots[r]));
        const double ui = std::exp(Fn);
        if (!std::isfinite(Fn) || !(ui > 0) || !std::isfinite(ui)) return false;
        step = std::max(step, std::abs(Fn - F[row]));
        F[row] = Fn;
        coef[r] = u[std::size_t(row)] = ui;
      }
      detail::axpy_rows<double, 4>(rows, coef, Ktu.data(), n);  // padded rows weigh 0
    }
    // Columns: v_j = (b_j / (K^T u)_j)^fb.
    for (index_t j = 0; j < n; ++j) {
      if (!(b[j] > 0)) continue;
      const double Gn = p.fb * (p.lb[j] - std::log(Ktu[std::size_t(j)]));
      const double vj = std::exp(Gn);
      if (!std::isfinite(Gn) || !(vj > 0) || !std::isfinite(vj)) return false;
      step = std::max(step, std::abs(Gn - G[j]));
      G[j] = Gn;
      v[std::size_t(j)] = vj;
    }
    st.n_iter = it;
    st.step = step;
    if (!(step > o.tol)) {
      st.converged = step <= o.tol;
      break;
    }
  }
  st.method = SinkhornMethod::plain;
  // The plan u_i K_ij v_j; zero rows and columns (and their log-scalings) at zero weights.
  for (index_t r = 0; r < m; ++r) {
    const double* Kr = &kernel[std::size_t(r * n)];
    for (index_t j = 0; j < n; ++j) plan[r * n + j] = T(u[std::size_t(r)] * Kr[j] * v[std::size_t(j)]);
    if (!(a[r] > 0)) F[r] = 0;
  }
  for (index_t j = 0; j < n; ++j)
    if (!(b[j] > 0)) G[j] = 0;
  return true;
}

template <class T>
UnbalancedStatus solve_one(index_t m, index_t n, const T* M, const T* a, const T* b,
                           const UnbalancedOptions& o, T* plan, double* F, double* G,
                           std::vector<double>& work, std::vector<double>& kernel,
                           Interrupt* interrupt) {
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
  std::fill(F, F + m, 0.0);
  std::fill(G, G + n, 0.0);
  UnbalancedStatus st;
  const Problem p{m, n, inv_reg, fa, fb, kl, la, lb};
  const bool plain = o.method == SinkhornMethod::plain ||
                     (o.method == SinkhornMethod::automatic && plain_fits(p, M));
  if (plain && solve_plain(p, M, a, b, o, plan, F, G, kernel, st, interrupt)) return st;
  // The log domain, from F, G (zero, or where the kernel domain left the range).
  st.method = SinkhornMethod::log;
  for (index_t j = 0; j < n; ++j) Gt[j] = b[j] > 0 ? (kl ? lb[j] : 0.0) + G[j] : ninf;
  std::vector<double> t(static_cast<std::size_t>(n)), wa(static_cast<std::size_t>(m));
  for (index_t i = 0; i < m; ++i) wa[std::size_t(i)] = double(a[i]);
  double* acc = cmax;  // column sums sum_i exp(Ft_i + hi_i - S) t_ij (reuses the buffer)
  (void)csum;
  for (int it = st.n_iter + 1; it <= o.max_iter; ++it) {
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
  require(o.method == SinkhornMethod::automatic || o.method == SinkhornMethod::plain ||
              o.method == SinkhornMethod::log,
          "method", "expected automatic, plain or log");
  const int threads = o.num_threads > 0 ? o.num_threads : num_threads();
  struct Work {
    std::vector<double> log_domain, kernel;
  };
  detail::parallel_items(
      batch, threads, 1, interrupt, [] { return Work(); },
      [&](Work& work, index_t k) {
        status[k] = solve_one(m, n, M + k * M_stride, a + k * a_stride, b + k * b_stride, o,
                              plan + k * m * n, F + k * m, G + k * n, work.log_domain,
                              work.kernel, interrupt);
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
