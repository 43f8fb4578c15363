// Log-domain Sinkhorn on the scaled potentials F = f / reg and G = g / reg:
//   F_i = log a_i - LSE_j(G_j - M_ij / reg),   G_j = log b_j - LSE_i(F_i - M_ij / reg).
// One pass over M per iteration, one exp per entry, one barrier (sinkhorn_solver.hpp). Row i's stabilised
// exponentials t_j = exp(G_j - M_ij / reg - max_j) give F_i, and w_i t_j with w_i = a_i / sum t
// is exactly exp(F_i + G_j - M_ij / reg), the plan entry for the new F and the old G. Its column
// sums s_j are accumulated at once, and since LSE_i(F_i - M_ij / reg) = log s_j - G_j,
//   G_j <- G_j + log b_j - log s_j
// is the exact log-domain column update, with no second exp per entry. Every t_j is at most
// 1 and every row sums to a_i, so nothing overflows; a column whose s_j underflows (no row
// gives it any mass yet, e.g. early at a tiny reg) has its LSE recomputed exactly.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ot/row_kernels.hpp"
#include "ot/sinkhorn_solver.hpp"

namespace optkern::detail {

template <class T>
void SinkhornSolver<T>::start_log(Team& team, const SinkhornItem<T>& item) {
  team.current = 0;
  double* G = col(team, 0);  // every thread its own copy
  for (index_t j = 0; j < n_; ++j)
    G[std::size_t(j)] =
        step::initial_G(b_[std::size_t(j)], item.init_g ? double(item.init_g[j]) * inv_reg_ : 0.0);
  const auto [r0, r1] = team.share(m_);
  for (index_t i = r0; i < r1; ++i) row_pot_[std::size_t(i)] = step::initial_F(a_[std::size_t(i)]);
  team.sync();
}

template <class T>
auto SinkhornSolver<T>::iterate_log(Team& team, const SinkhornItem<T>& item, int& iter)
    -> Outcome {
  double* F = row_pot_.data();
  const auto [r0, r1] = team.share(m_);
  double* G = col(team, team.current);  // this thread's copy, updated in place
  double* t = row_buffer_.data() + std::size_t(team.rank) * std::size_t(n_);
  do {
    const auto [parity, check, acc] = begin_iteration(team, ++iter);

    // Phase 1: my rows: F_i from the row's log-sum-exp, then its plan entries into the
    // column sums.
    double err = 0;
    for (index_t i = r0; i < r1; ++i) {
      const std::size_t k = std::size_t(i);
      if (!(a_[k] > 0)) continue;
      const T* M = item.M + i * n_;
      const double hi = row_max(M, G, inv_reg_, n_);
      const double sum = row_exp(M, G, inv_reg_, hi, t, n_);
      F[k] = step::log_row(a_[k], log_a_[k], hi, sum, F[k], check, &err);
      const double w = a_[k] / sum;
      const double* rows[1] = {t};
      axpy_rows<double, 1>(rows, &w, acc, n_);
    }
    if (end_phase1(team, parity, err, false)) return Outcome::interrupted;

    // Every thread: G_j += log b_j - log s_j from the team's column sums, in its own copy.
    double error = 0;
    for (int th = 0; th < team.size; ++th) error = std::max(error, flags(parity, th)[0]);
    for (index_t j = 0; j < n_; ++j) {
      const std::size_t k = std::size_t(j);
      if (!(b_[k] > 0)) continue;  // stays -inf
      double s = 0;
      for (int th = 0; th < team.size; ++th) s += partial(parity, th)[j];
      G[k] = step::log_column(G[k], log_b_[k], s, [&] {
        return column_lse(item.M, m_, n_, j, F, 1.0, a_.data(), inv_reg_);
      });
    }
    if (check && step::converged(error, opt_.tol, mass_)) return Outcome::converged;
  } while (iter < opt_.max_iter);
  return Outcome::max_iter;
}

template <class T>
double SinkhornSolver<T>::finish_log(Team& team, const SinkhornItem<T>& item) {
  const double* F = row_pot_.data();
  const double* G = col(team, team.current);
  // P_ij = exp(F_i + G_j - M_ij / reg).
  return finish_plan(team, item, G, [&](index_t i, T* row, double* colsum, double* cost) {
    return plan_row_log(item.M + i * n_, F[std::size_t(i)], G, inv_reg_, row, colsum, cost, n_);
  });
}

#define OPTKERN_SINKHORN_LOG(T)                                                          \
  template void SinkhornSolver<T>::start_log(Team&, const SinkhornItem<T>&);              \
  template SinkhornSolver<T>::Outcome SinkhornSolver<T>::iterate_log(                     \
      Team&, const SinkhornItem<T>&, int&);                                               \
  template double SinkhornSolver<T>::finish_log(Team&, const SinkhornItem<T>&);
OPTKERN_SINKHORN_LOG(float)
OPTKERN_SINKHORN_LOG(double)
#undef OPTKERN_SINKHORN_LOG

}  // namespace optkern::detail
