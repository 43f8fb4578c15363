// Unbalanced Sinkhorn (optkern/ot/unbalanced.hpp). One problem per thread, or a team of
// threads over the rows and columns of one large problem.
// Kernel domain: K = c exp(-M / reg) once, then per iteration one pass over K for the row
// products K v and one for the column sums K^T u (no exp). Log domain: one pass over M along
// its rows with one vectorised exp per entry, the row log-sum-exps, whose stabilised
// exponentials also give the column sums (as in sinkhorn_log.cpp, against a running scale
// since the rows are not normalised here).
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "common/parallel_items.hpp"
#include "optkern/ot.hpp"
#include "optkern/threads.hpp"
#include "ot/row_kernels.hpp"
#include "ot/sinkhorn_solver.hpp"
#include "ot/team.hpp"

namespace optkern {
namespace {

using detail::poll;
using detail::Team;

double shrink(double rho, double reg) { return std::isinf(rho) ? 1.0 : rho / (rho + reg); }

// One problem solved by a team of threads (ot/team.hpp; a team of one for the problems of a
// batch): each member owns a contiguous share of the rows and of the columns. An iteration
// is two phases: the rows (u or F), with each member's column sums K^T u in its own
// accumulator, then, after a barrier, the columns (v or G) from the sum of the accumulators;
// a second barrier publishes the step, the range flag and the interrupt poll, so that every
// member takes the same decision. Scratch is allocated up front, except K, allocated by the
// first member once the kernel domain is chosen.
template <class T>
class UnbalancedSolver {
 public:
  struct Item {
    const T *M, *a, *b;
    T* plan;
    double *F, *G;
  };

  UnbalancedSolver(index_t m, index_t n, int team_size, const UnbalancedOptions& o,
                   Interrupt* interrupt)
      : m_(m),
        n_(n),
        o_(o),
        interrupt_(interrupt),
        inv_reg_(1.0 / o.reg),
        fa_(shrink(o.rho_a, o.reg)),
        fb_(shrink(o.rho_b, o.reg)),
        kl_(o.reg_type == UnbalancedRegType::kl),
        la_(std::size_t(m)),
        wa_(std::size_t(m)),
        Ft_(std::size_t(m)),
        u_(std::size_t(m)),
        lb_(std::size_t(n)),
        Gt_(std::size_t(n)),
        v_(std::size_t(n)),
        partial_(std::size_t(team_size) * std::size_t(n)),
        rows_(std::size_t(team_size) * std::size_t(n)),
        slots_(std::size_t(team_size) * kSlots) {}

  // Called by every member of `team` (at most the team_size given to the constructor).
  UnbalancedStatus solve(Team& team, const Item& it) {
    const double ninf = -std::numeric_limits<double>::infinity();
    const auto [r0, r1] = team.share(m_);
    const auto [c0, c1] = team.share(n_);
    double worst = 0, la_min = 0, lb_min = 0;  // for plain_fits: max |M| / reg, -min log w
    for (index_t i = r0; i < r1; ++i) {
      const double ai = double(it.a[i]);
      la_[std::size_t(i)] = ai > 0 ? std::log(ai) : ninf;
      wa_[std::size_t(i)] = ai;
      if (ai > 0) la_min = std::max(la_min, -la_[std::size_t(i)]);
      Ft_[std::size_t(i)] = 0;
      it.F[i] = 0;
      double lo, hi;
      detail::row_min_max(it.M + i * n_, n_, &lo, &hi);
      worst = std::max({worst, std::fabs(lo), std::fabs(hi)});
    }
    for (index_t j = c0; j < c1; ++j) {
      const double bj = double(it.b[j]);
      lb_[std::size_t(j)] = bj > 0 ? std::log(bj) : ninf;
      if (bj > 0) lb_min = std::max(lb_min, -lb_[std::size_t(j)]);
      it.G[j] = 0;
    }
    double* mine = slot(team.rank);
    mine[0] = worst;
    mine[1] = la_min;
    mine[2] = lb_min;
    team.sync();
    // The kernel domain holds K = c exp(-M / reg) without a subnormal or zero entry (for
    // positive weights), and its scalings stay inside double's range, when the exponents of
    // K span at most the limit the balanced solver uses for double.
    double span = 0, la = 0, lb = 0;
    for (int t = 0; t < team.size; ++t) {
      span = std::max(span, slot(t)[0]);
      la = std::max(la, slot(t)[1]);
      lb = std::max(lb, slot(t)[2]);
    }
    span = span * inv_reg_ + (kl_ ? la + lb : 0.0);
    const bool plain =
        o_.method == SinkhornMethod::plain || (o_.method == SinkhornMethod::automatic &&
                                               span <= detail::step::plain_range_limit<double>());
    UnbalancedStatus st;
    if (plain && solve_plain(team, it, st)) return st;
    solve_log(team, it, st);
    return st;
  }

 private:
  static constexpr std::size_t kSlots = 4;  // what each member publishes at a barrier
  double* slot(int member) { return slots_.data() + std::size_t(member) * kSlots; }

  // After the second barrier of an iteration: the team's step, and whether any member left
  // the range or saw the interrupt.
  struct Agreed {
    double step;
    bool out_of_range, stop;
  };
  Agreed publish(Team& team, double step, bool out_of_range) {
    double* mine = slot(team.rank);
    mine[1] = step;
    mine[2] = out_of_range ? 1.0 : 0.0;
    mine[3] = poll(interrupt_) ? 1.0 : 0.0;
    team.sync();
    Agreed all{0, false, false};
    for (int t = 0; t < team.size; ++t) {
      all.step = std::max(all.step, slot(t)[1]);
      all.out_of_range = all.out_of_range || slot(t)[2] > 0;
      all.stop = all.stop || slot(t)[3] > 0;
    }
    return all;
  }

  // Whether to stop after iteration `iter` with the agreed step (records it in st).
  bool finished(const Agreed& all, int iter, UnbalancedStatus& st) const {
    st.n_iter = iter;
    st.step = all.step;
    if (all.step > o_.tol) return false;  // also stops on NaN (cannot happen for finite input)
    st.converged = all.step <= o_.tol;
    return true;
  }

  // The kernel-domain iteration from the log-scalings F = log u, G = log v (updated in
  // place). Returns true when it finished (converged, out of iterations or interrupted), false
  // when a scaling left the floating-point range: F, G then hold finite values (the last
  // finite iterate of each entry), and the log domain goes on from there.
  bool solve_plain(Team& team, const Item& it, UnbalancedStatus& st) {
    const auto [r0, r1] = team.share(m_);
    const auto [c0, c1] = team.share(n_);
    // K_ij = exp(c_i + c_j - M_ij / reg), the column factors -inf at zero weights (K = 0);
    // Gt_ holds the column factors here.
    for (index_t j = c0; j < c1; ++j) {
      Gt_[std::size_t(j)] = kl_ || !(it.b[j] > 0) ? lb_[std::size_t(j)] : 0.0;
      v_[std::size_t(j)] = it.b[j] > 0 ? std::exp(it.G[j]) : 0.0;
    }
    if (team.rank == 0) kernel_.resize(std::size_t(m_ * n_));
    team.sync();
    for (index_t i = r0; i < r1; ++i) {
      double* Ki = kernel_.data() + i * n_;
      const double ci = kl_ ? la_[std::size_t(i)] : 0.0;
      if (!(it.a[i] > 0)) {
        std::fill(Ki, Ki + n_, 0.0);
      } else if constexpr (std::is_same_v<T, double>) {
        detail::exp_row(it.M + i * n_, ci, Gt_.data(), inv_reg_, Ki, n_);
      } else {
        for (index_t j = 0; j < n_; ++j)
          Ki[j] = std::exp(ci + Gt_[std::size_t(j)] - double(it.M[i * n_ + j]) * inv_reg_);
      }
      u_[std::size_t(i)] = it.a[i] > 0 ? std::exp(it.F[i]) : 0.0;
    }
    team.sync();
    double* acc = partial_.data() + std::size_t(team.rank) * std::size_t(n_);
    for (int iter = st.n_iter + 1; iter <= o_.max_iter; ++iter) {
      double step = 0;
      bool out = false;
      // Rows: u_i = (a_i / (K v)_i)^fa, and at once (the rows still in cache) this member's
      // column sums K^T u: one pass over K per iteration, four rows at a time.
      std::fill(acc, acc + n_, 0.0);
      for (index_t i = r0; i < r1; i += 4) {
        const int count = int(std::min<index_t>(4, r1 - i));
        const double* rows[4];
        for (int r = 0; r < 4; ++r) rows[r] = kernel_.data() + (i + std::min(r, count - 1)) * n_;
        double dots[4], coef[4] = {0, 0, 0, 0};
        detail::dot_rows<double, 4>(rows, v_.data(), n_, dots);
        for (int r = 0; r < count; ++r) {
          const index_t row = i + r;
          if (!(it.a[row] > 0)) continue;
          const double Fn = fa_ * (la_[std::size_t(row)] - std::log(dots[r]));
          const double ui = std::exp(Fn);
          if (!std::isfinite(Fn) || !(ui > 0) || !std::isfinite(ui)) {
            out = true;
            continue;
          }
          step = std::max(step, std::abs(Fn - it.F[row]));
          it.F[row] = Fn;
          coef[r] = u_[std::size_t(row)] = ui;
        }
        detail::axpy_rows<double, 4>(rows, coef, acc, n_);  // padded rows weigh 0
      }
      team.sync();
      // Columns: v_j = (b_j / (K^T u)_j)^fb.
      for (index_t j = c0; j < c1; ++j) {
        if (!(it.b[j] > 0)) continue;
        double ktu = 0;
        for (int t = 0; t < team.size; ++t)
          ktu += partial_[std::size_t(t) * std::size_t(n_) + std::size_t(j)];
        const double Gn = fb_ * (lb_[std::size_t(j)] - std::log(ktu));
        const double vj = std::exp(Gn);
        if (!std::isfinite(Gn) || !(vj > 0) || !std::isfinite(vj)) {
          out = true;
          continue;
        }
        step = std::max(step, std::abs(Gn - it.G[j]));
        it.G[j] = Gn;
        v_[std::size_t(j)] = vj;
      }
      const Agreed all = publish(team, step, out);
      if (all.stop) return true;  // the caller throws
      if (all.out_of_range) return false;
      if (finished(all, iter, st)) break;
    }
    st.method = SinkhornMethod::plain;
    // The plan u_i K_ij v_j; zero rows and columns (and their log-scalings) at zero weights.
    for (index_t r = r0; r < r1; ++r) {
      const double* Kr = kernel_.data() + r * n_;
      T* out = it.plan + r * n_;
      for (index_t j = 0; j < n_; ++j) out[j] = T(u_[std::size_t(r)] * Kr[j] * v_[std::size_t(j)]);
      if (!(it.a[r] > 0)) it.F[r] = 0;
    }
    for (index_t j = c0; j < c1; ++j)
      if (!(it.b[j] > 0)) it.G[j] = 0;
    return true;
  }

  // The log domain, from F, G (zero, or where the kernel domain left the range).
  void solve_log(Team& team, const Item& it, UnbalancedStatus& st) {
    const double ninf = -std::numeric_limits<double>::infinity();
    const auto [r0, r1] = team.share(m_);
    const auto [c0, c1] = team.share(n_);
    st.method = SinkhornMethod::log;
    for (index_t j = c0; j < c1; ++j)
      Gt_[std::size_t(j)] = it.b[j] > 0 ? (kl_ ? lb_[std::size_t(j)] : 0.0) + it.G[j] : ninf;
    team.sync();
    double* acc = partial_.data() + std::size_t(team.rank) * std::size_t(n_);
    double* t = rows_.data() + std::size_t(team.rank) * std::size_t(n_);
    for (int iter = st.n_iter + 1; iter <= o_.max_iter; ++iter) {
      double step = 0;
      // Rows: F_i = fa (log a_i - LSE_j(log c_ij + G_j - M_ij / reg)); c_ij = c_i c_j. Row i's
      // stabilised exponentials t_j = exp(Gt_j - M_ij / reg - hi_i) also give the column
      // sums: exp(Ft_i + Gt_j - M_ij / reg) = exp(Ft_i + hi_i) t_j, accumulated against this
      // member's running scale S (rescaled when a row exceeds it, as online softmax does), so
      // each entry costs one exp.
      std::fill(acc, acc + n_, 0.0);
      double S = ninf;
      for (index_t i = r0; i < r1; ++i) {
        if (!(it.a[i] > 0)) continue;
        const T* row = it.M + i * n_;
        const double hi = detail::row_max(row, Gt_.data(), inv_reg_, n_);
        const double sum = detail::row_exp(row, Gt_.data(), inv_reg_, hi, t, n_);
        const double ci = kl_ ? la_[std::size_t(i)] : 0.0;
        const double Fn = fa_ * (la_[std::size_t(i)] - ci - hi - std::log(sum));
        step = std::max(step, std::abs(Fn - it.F[i]));
        it.F[i] = Fn;
        Ft_[std::size_t(i)] = ci + Fn;
        const double lw = Ft_[std::size_t(i)] + hi;
        if (lw > S) {
          const double shrink_by = std::exp(S - lw);  // 0 on the first row
          for (index_t j = 0; j < n_; ++j) acc[j] *= shrink_by;
          S = lw;
        }
        const double w = std::exp(lw - S);
        const double* rows[1] = {t};
        detail::axpy_rows<double, 1>(rows, &w, acc, n_);
      }
      slot(team.rank)[0] = S;
      team.sync();
      // The members' sums against the largest scale.
      double top = ninf;
      for (int k = 0; k < team.size; ++k) top = std::max(top, slot(k)[0]);
      // Columns: G_j = fb (log b_j - LSE_i(log c_ij + F_i - M_ij / reg)), where
      // LSE_i(Ft_i - M_ij / reg) = log sum_j + top - Gt_j; a column whose sum underflowed gets
      // an exact (strided) log-sum-exp.
      for (index_t j = c0; j < c1; ++j) {
        if (!(it.b[j] > 0)) continue;
        double total = 0;
        for (int k = 0; k < team.size; ++k) {
          const double Sk = slot(k)[0];
          if (Sk > ninf)
            total +=
                partial_[std::size_t(k) * std::size_t(n_) + std::size_t(j)] * std::exp(Sk - top);
        }
        const double cj = kl_ ? lb_[std::size_t(j)] : 0.0;
        const double lse =
            total > detail::step::kStarvedColumn && std::isfinite(Gt_[std::size_t(j)])
                ? std::log(total) + top - Gt_[std::size_t(j)]
                : detail::column_lse(it.M, m_, n_, j, Ft_.data(), 1.0, wa_.data(), inv_reg_);
        const double Gn = fb_ * (lb_[std::size_t(j)] - cj - lse);
        step = std::max(step, std::abs(Gn - it.G[j]));
        it.G[j] = Gn;
        Gt_[std::size_t(j)] = cj + Gn;
      }
      const Agreed all = publish(team, step, false);
      if (all.stop) return;  // the caller throws
      if (finished(all, iter, st)) break;
    }
    // The plan: c_i c_j exp(F_i + G_j - M_ij / reg), zero rows and columns at zero weights.
    for (index_t i = r0; i < r1; ++i) {
      T* out = it.plan + i * n_;
      if (!(it.a[i] > 0)) {
        std::fill(out, out + n_, T(0));
        it.F[i] = 0;
        continue;
      }
      detail::exp_row(it.M + i * n_, Ft_[std::size_t(i)], Gt_.data(), inv_reg_, out, n_);
    }
    for (index_t j = c0; j < c1; ++j)
      if (!(it.b[j] > 0)) it.G[j] = 0;
  }

  index_t m_, n_;
  UnbalancedOptions o_;
  Interrupt* interrupt_;
  double inv_reg_, fa_, fb_;  // 1 / reg and rho / (rho + reg) per side (1: a hard marginal)
  bool kl_;                   // c = a b^T (else c = 1)
  std::vector<double> la_, wa_, Ft_, u_;  // per row: log a_i (-inf at 0), a_i, log c_i + F_i, u_i
  std::vector<double> lb_, Gt_, v_;  // per column: log b_j, log c_j + G_j, v_j
  std::vector<double> partial_;  // each member's column sums (team size x n)
  std::vector<double> rows_;  // each member's row of exponentials (log domain)
  std::vector<double> slots_;  // what each member publishes at a barrier
  std::vector<double> kernel_;  // K (m x n) in the kernel domain
};

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
  using Solver = UnbalancedSolver<T>;
  const auto item = [&](index_t k) {
    return typename Solver::Item{M + k * M_stride, a + k * a_stride, b + k * b_stride,
                                 plan + k * m * n, F + k * m,        G + k * n};
  };
  // A team per problem only pays when an iteration is long next to a barrier (as for the
  // balanced solver, sinkhorn.cpp); small problems and large batches go one per thread.
  if (batch >= threads || m * n < 512 * 512 || threads == 1) {
    detail::parallel_items(
        batch, threads, 1, interrupt,
        [&] { return std::make_unique<Solver>(m, n, 1, o, interrupt); },
        [&](auto& solver, index_t k) {
          detail::Team team;
          status[k] = solver->solve(team, item(k));
        });
  } else {
    const int nt = detail::region_threads(
        int(std::min<index_t>(threads, std::max<index_t>(1, std::min(m, n) / 8))));
    Solver solver(m, n, nt, o, interrupt);
    detail::SpinBarrier barrier;
    detail::RegionErrors errors;
    for (index_t k = 0; k < batch && !errors.failed() && !(interrupt && interrupt->stopped());
         ++k) {
#pragma omp parallel num_threads(nt)
      {
        detail::Team team = detail::omp_team(&barrier);
        detail::run_in_team(errors, barrier, [&] {
          const UnbalancedStatus st = solver.solve(team, item(k));
          if (team.rank == 0) status[k] = st;
        });
      }
    }
    errors.rethrow_if_failed();
  }
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
