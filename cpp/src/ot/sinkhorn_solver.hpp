// One Sinkhorn problem solved by a team of threads (see team.hpp): the shared buffers, and the
// phases every thread of the team runs in step.
//
// An iteration is two phases separated by barriers. Phase 1 goes over this thread's rows once:
// row i gives the new row potential (u_i = a_i / (K_i . v), or F_i by log-sum-exp) and is
// folded at once into this thread's partial column accumulators (K^T u, or running column
// maxima and sums), so K (or M) is read once per iteration. Phase 2 reduces the partials over
// the team for this thread's columns and updates the column potentials. The marginal error
// comes for free from phase 1: the columns of the previous iterate are exact, and its row
// sums are u_i^old (K v)_i = a_i exp(F_i^old - F_i^new), so checking costs no extra pass.
#pragma once

#include <algorithm>
#include <limits>
#include <vector>

#include "optkern/interrupt.hpp"
#include "optkern/ot.hpp"
#include "optkern/ot/sinkhorn_step.hpp"
#include "ot/row_kernels.hpp"
#include "ot/team.hpp"

namespace optkern::detail {

namespace step = sinkhorn_step;  // the per-problem logic shared with CUDA

// One problem's inputs and outputs (pointers into the batch).
template <class T>
struct SinkhornItem {
  const T* M = nullptr;
  const T* a = nullptr;
  const T* b = nullptr;
  const T* init_g = nullptr;
  T* plan = nullptr;
  T* f = nullptr;
  T* g = nullptr;
  SinkhornStatus* status = nullptr;
};

template <class T>
class SinkhornSolver {
 public:
  // interrupt (may be null) is polled once per iteration by every thread of the team.
  SinkhornSolver(index_t m, index_t n, int team_size, const SinkhornOptions& options,
                 Interrupt* interrupt = nullptr);

  // Every thread of the team calls this with its Team; buffers are shared, nothing allocates.
  // Returns false when the interrupt stopped it (the item's outputs are then unspecified).
  bool solve(Team& team, const SinkhornItem<T>& item);

 private:
  enum class Outcome { converged, max_iter, breakdown, interrupted };

  // Whether the team stops at this iteration: every thread polls and records its answer in
  // its slot of `flags`; after the next barrier each thread reads all slots (stop_agreed), so
  // the team leaves the loop together.
  bool stop_agreed(const Team& team, int parity) {
    bool stop = false;
    for (int t = 0; t < team.size; ++t) stop = stop || flags(parity, t)[2] > 0;
    return stop;
  }

  // The start of iteration `iter` (already counted): its parity (which partials and flags it
  // writes), whether it checks the marginal error, and this thread's zeroed accumulators.
  struct Step {
    int parity;
    bool check;
    double* acc;
  };
  Step begin_iteration(const Team& team, int iter) {
    const int parity = iter & 1;
    double* acc = partial(parity, team.rank);
    std::fill(acc, acc + n_, 0.0);
    return {parity, step::check_iteration(opt_.tol, iter, opt_.check_every), acc};
  }

  // The end of phase 1: this thread's error and breakdown flag are published with its answer
  // to the interrupt poll, then the barrier. Returns whether the team stops (interrupted).
  bool end_phase1(Team& team, int parity, double err, bool breakdown) {
    double* mine = flags(parity, team.rank);
    mine[0] = err;
    mine[1] = breakdown ? 1.0 : 0.0;
    mine[2] = poll(interrupt_) ? 1.0 : 0.0;
    team.sync();
    return stop_agreed(team, parity);
  }

  void prepare_weights(Team& team, const SinkhornItem<T>& item);
  SinkhornMethod choose_method(Team& team, const SinkhornItem<T>& item);
  void compute_shifts(Team& team, const T* M);
  double shifted_range(Team& team, const T* M);

  // Kernel domain: K (in the plan buffer) from the shifted cost, then iterations from `iter`.
  void start_plain(Team& team, const SinkhornItem<T>& item);
  Outcome iterate_plain(Team& team, const SinkhornItem<T>& item, int& iter);
  double finish_plain(Team& team, const SinkhornItem<T>& item);  // returns this thread's cost

  // Log domain, from the column potentials G (= g / reg) already in place.
  void start_log(Team& team, const SinkhornItem<T>& item);
  void rescue_to_log(Team& team);
  Outcome iterate_log(Team& team, const SinkhornItem<T>& item, int& iter);
  double finish_log(Team& team, const SinkhornItem<T>& item);

  // Shared by both: the final pass. write_row(i, row, colsum, &cost) writes row i of the
  // plan (a_i > 0), returns its sum and leaves F_i = f_i / reg in row_pot_; rows of zero
  // weight get zeros and the c-transform. Then the column sums and col_final_ = g (the
  // c-transform at zero weights, from G, the log-domain column potentials, -inf there), and
  // f = reg F in row_pot_. Returns this thread's share of <M, P>.
  template <class RowWriter>
  double finish_plan(Team& team, const SinkhornItem<T>& item, const double* G, RowWriter write_row);

  // Shared by both: gauge, outputs and status, once row_pot_ and col_final_ hold f and g
  // (unscaled, with the c-transforms at zero weights) and row_sums_, col_sums_ the marginals
  // of the plan as stored. `cost` is this thread's share of <M, P>.
  void finish_potentials(Team& team, const SinkhornItem<T>& item, SinkhornMethod method, int iter,
                         double cost);

  // Reduce one double per thread over the team (every thread gets the result). Two scratch
  // buffers alternate, so a thread that runs ahead never overwrites a slot still being read.
  double team_max(Team& team, double x) {
    if (team.size == 1) return x;
    std::vector<double>& slot = reduce_[team.round++ & 1];
    slot[std::size_t(team.rank)] = x;
    team.sync();
    double best = slot[0];
    for (int t = 1; t < team.size; ++t) best = std::max(best, slot[std::size_t(t)]);
    return best;
  }
  double team_sum(Team& team, double x) {
    if (team.size == 1) return x;
    std::vector<double>& slot = reduce_[team.round++ & 1];
    slot[std::size_t(team.rank)] = x;
    team.sync();
    double sum = 0;
    for (int t = 0; t < team.size; ++t) sum += slot[std::size_t(t)];  // one order everywhere
    return sum;
  }

  index_t m_, n_;
  int team_size_;
  SinkhornOptions opt_;
  double inv_reg_;
  Interrupt* interrupt_;

  // Per problem, shared by the team.
  std::vector<double> a_, b_, log_a_, log_b_;  // the marginals in double, and their logs
  double mass_ = 0;
  std::vector<double> row_pot_;       // u (plain) or F = f / reg (log); f at the end
  std::vector<double> col_pot_;       // per thread, two buffers (team.current): v or G = g / reg
  std::vector<double> col_final_;     // g at the end
  std::vector<double> row_shift_;     // alpha_i / reg (plain)
  std::vector<double> col_shift_;     // beta_j / reg (plain)
  std::vector<double> row_sums_;      // row sums of the returned plan
  std::vector<double> col_sums_;      // column sums of the returned plan
  std::vector<double> partial_;       // 2 x team_size x n partial column sums (by parity)
  std::vector<double> flags_;         // 2 x team_size x 3: (error, breakdown, stop) per thread
  std::vector<double> row_buffer_;    // team_size x n (log: one row's exponentials)
  std::vector<float> col_float_;      // team_size x n (plain, float32 K: v in float)
  std::vector<double> reduce_[2];     // one slot per thread, double-buffered

  double* col(const Team& team, int which) {
    return col_pot_.data() + (std::size_t(team.rank) * 2 + std::size_t(which)) * std::size_t(n_);
  }
  double* partial(int parity, int rank) {
    return partial_.data() +
           (std::size_t(parity) * std::size_t(team_size_) + std::size_t(rank)) * std::size_t(n_);
  }
  double* flags(int parity, int rank) {
    return flags_.data() + (std::size_t(parity) * std::size_t(team_size_) + std::size_t(rank)) * 3;
  }
};

template <class T>
template <class RowWriter>
double SinkhornSolver<T>::finish_plan(Team& team, const SinkhornItem<T>& item, const double* G,
                                      RowWriter write_row) {
  const auto [r0, r1] = team.share(m_);
  const auto [c0, c1] = team.share(n_);
  double* F = row_pot_.data();
  double* colsum = partial(0, team.rank);
  team.sync();  // every thread is past its last read of the partials
  std::fill(colsum, colsum + n_, 0.0);
  double cost = 0;
  for (index_t i = r0; i < r1; ++i) {
    const std::size_t k = std::size_t(i);
    T* row = item.plan + i * n_;
    if (a_[k] > 0) {
      row_sums_[k] = write_row(i, row, colsum, &cost);
    } else {
      const T* M = item.M + i * n_;
      const double hi = row_max(M, G, inv_reg_, n_);
      F[k] = -(hi + std::log(row_sum_exp(M, G, inv_reg_, hi, n_)));
      std::fill(row, row + n_, T(0));
      row_sums_[k] = 0;
    }
  }
  team.sync();
  for (index_t j = c0; j < c1; ++j) {
    const std::size_t k = std::size_t(j);
    double sum = 0;
    for (int t = 0; t < team.size; ++t) sum += partial(0, t)[j];
    col_sums_[k] = sum;
    // A zero-weight column gets the c-transform of the positive rows' F.
    col_final_[k] =
        opt_.reg * (b_[k] > 0 ? G[k] : -column_lse(item.M, m_, n_, j, F, 1.0, a_.data(), inv_reg_));
  }
  team.sync();
  for (index_t i = r0; i < r1; ++i) F[std::size_t(i)] *= opt_.reg;
  team.sync();
  return cost;
}

}  // namespace optkern::detail
