// Kernel-domain Sinkhorn: K = exp(-(M_ij - alpha_i - beta_j) / reg) is formed once in the plan
// buffer (alpha, beta: row and column minima, so every row and column of K holds a 1), then
// each iteration reads K once (sinkhorn_solver.hpp): row i gives u_i = a_i / (K_i . v), and
// u_i K_i is added to this thread's K^T u at once, while the row is in cache.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "ot/row_kernels.hpp"
#include "ot/sinkhorn_solver.hpp"

namespace optkern::detail {
namespace {

constexpr int kRowBlock = 4;  // rows per pass of the fused kernels (v and K^T u read once)

}  // namespace

template <class T>
void SinkhornSolver<T>::start_plain(Team& team, const SinkhornItem<T>& item) {
  const auto [r0, r1] = team.share(m_);
  for (index_t i = r0; i < r1; ++i) {
    exp_row(item.M + i * n_, row_shift_[std::size_t(i)], col_shift_.data(), inv_reg_,
            item.plan + i * n_, n_);
    row_pot_[std::size_t(i)] = 0;
  }
  // v = exp(g / reg - beta / reg), scaled so that its largest entry is 1 (u absorbs the
  // scale); every thread fills its own copy.
  team.current = 0;
  double* v = col(team, 0);
  double top = 0;
  if (item.init_g) {
    top = -std::numeric_limits<double>::infinity();
    for (index_t j = 0; j < n_; ++j)
      if (b_[std::size_t(j)] > 0)
        top = std::max(top, double(item.init_g[j]) * inv_reg_ - col_shift_[std::size_t(j)]);
  }
  for (index_t j = 0; j < n_; ++j) {
    const std::size_t k = std::size_t(j);
    const double x = item.init_g ? double(item.init_g[j]) * inv_reg_ - col_shift_[k] - top : 0;
    v[k] = step::initial_v(b_[k], x);
  }
  team.sync();
}

template <class T>
auto SinkhornSolver<T>::iterate_plain(Team& team, const SinkhornItem<T>& item, int& iter)
    -> Outcome {
  const auto [r0, r1] = team.share(m_);
  double* u = row_pot_.data();
  T* K = item.plan;
  // Float32 K: this thread's copy of v in float, and whether every weighted entry lies in
  // [kFloatLow, 1 / kFloatLow]. Then every row and column of K holding a 1 (the shifts),
  // each row product K_i . v is at least kFloatLow, and so is each column sum (K^T u)_j when
  // every u_i does: terms that underflow in float are below 1e-38, negligible.
  constexpr double kFloatLow = 1e-15;
  float* vf = std::is_same_v<T, float>
                  ? col_float_.data() + std::size_t(team.rank) * std::size_t(n_)
                  : nullptr;
  bool vf_ok = false;
  const auto in_float_range = [](double x) {
    return x == 0 || (x >= kFloatLow && x <= 1 / kFloatLow);
  };
  while (iter < opt_.max_iter) {
    const auto [parity, check, acc] = begin_iteration(team, ++iter);
    const double* v = col(team, team.current);
    // Float arithmetic (row_kernels.hpp) except on a check iteration and the one before: the
    // check then measures u and v from double sums, so the float rounding (about 1e-7 of a
    // sum) never reaches the reported error or the converged result.
    const bool fast = std::is_same_v<T, float> && vf_ok && !check &&
                      !step::check_iteration(opt_.tol, iter + 1, opt_.check_every);

    // Phase 1: my rows, R at a time: u_i = a_i / (K_i . v), then K^T u += u_i K_i.
    double err = 0;
    bool bad = false;
    for (index_t i = r0; i < r1; i += kRowBlock) {
      const int R = int(std::min<index_t>(kRowBlock, r1 - i));
      const T* rows[kRowBlock];
      double s[kRowBlock], coef[kRowBlock];
      for (int r = 0; r < R; ++r) rows[r] = K + (i + r) * n_;
      if (R == kRowBlock) {
        if constexpr (std::is_same_v<T, float>) {
          if (fast) {
            dot_rows_f32<kRowBlock>(rows, vf, n_, s);
          } else {
            dot_rows<T, kRowBlock>(rows, v, n_, s);
          }
        } else {
          dot_rows<T, kRowBlock>(rows, v, n_, s);
        }
      } else {
        for (int r = 0; r < R; ++r) dot_rows<T, 1>(rows + r, v, n_, s + r);
      }
      for (int r = 0; r < R; ++r) {
        const std::size_t k = std::size_t(i + r);
        u[k] = coef[r] = step::plain_row(a_[k], s[r], u[k], check, &err, &bad);
      }
      bool fast_rows = fast;
      for (int r = 0; r < R; ++r) fast_rows = fast_rows && in_float_range(coef[r]);
      if (R == kRowBlock) {
        if constexpr (std::is_same_v<T, float>) {
          if (fast_rows) {
            axpy_rows_f32<kRowBlock>(rows, coef, acc, n_);
          } else {
            axpy_rows<T, kRowBlock>(rows, coef, acc, n_);
          }
        } else {
          axpy_rows<T, kRowBlock>(rows, coef, acc, n_);
        }
      } else {
        for (int r = 0; r < R; ++r) axpy_rows<T, 1>(rows + r, coef + r, acc, n_);
      }
    }
    if (end_phase1(team, parity, err, bad)) return Outcome::interrupted;

    // Every thread: v = b / K^T u from the partials of the whole team, in its own copy.
    double* v_next = col(team, 1 - team.current);
    double error = 0;
    for (int t = 0; t < team.size; ++t) {
      error = std::max(error, flags(parity, t)[0]);
      bad = bad || flags(parity, t)[1] > 0;
    }
    for (index_t j = 0; j < n_; ++j) {
      double sum = 0;
      for (int t = 0; t < team.size; ++t) sum += partial(parity, t)[j];
      v_next[std::size_t(j)] = step::plain_column(b_[std::size_t(j)], sum, &bad);
    }
    if constexpr (std::is_same_v<T, float>) {
      vf_ok = true;
      for (index_t j = 0; j < n_; ++j) {
        const double vj = v_next[std::size_t(j)];
        vf[j] = float(vj);
        vf_ok = vf_ok && in_float_range(vj);
      }
    }
    if (bad) return Outcome::breakdown;  // v (team.current) is the last finite iterate
    team.current = 1 - team.current;
    if (check && step::converged(error, opt_.tol, mass_)) return Outcome::converged;
  }
  return Outcome::max_iter;
}

template <class T>
void SinkhornSolver<T>::rescue_to_log(Team& team) {
  // G = log v + beta / reg from the last finite v (each thread its copy); columns whose v
  // underflowed get the smallest finite G (the next column update recomputes every G).
  double* v = col(team, team.current);
  double lowest = std::numeric_limits<double>::infinity();
  for (index_t j = 0; j < n_; ++j) {
    const std::size_t k = std::size_t(j);
    if (b_[k] > 0 && v[k] > 0 && std::isfinite(v[k]))
      lowest = std::min(lowest, std::log(v[k]) + col_shift_[k]);
  }
  if (!std::isfinite(lowest)) lowest = 0;
  for (index_t j = 0; j < n_; ++j) {
    const std::size_t k = std::size_t(j);
    v[k] = step::rescued_G(b_[k], v[k], col_shift_[k], lowest);
  }
  const auto [r0, r1] = team.share(m_);
  for (index_t i = r0; i < r1; ++i) row_pot_[std::size_t(i)] = step::initial_F(a_[std::size_t(i)]);
  team.sync();
}

template <class T>
double SinkhornSolver<T>::finish_plain(Team& team, const SinkhornItem<T>& item) {
  double* u = row_pot_.data();
  const double* v = col(team, team.current);
  double* G = col(team, 1 - team.current);  // G = log v + beta / reg, this thread's copy
  for (index_t j = 0; j < n_; ++j) {
    const std::size_t k = std::size_t(j);
    G[k] = step::log_scaling(b_[k], v[k], col_shift_[k]);
  }
  // P_i = u_i K_i v in place, then F_i = log u_i + alpha_i / reg.
  return finish_plan(team, item, G, [&](index_t i, T* row, double* colsum, double* cost) {
    const std::size_t k = std::size_t(i);
    const double sum = plan_row_plain(row, u[k], v, item.M + i * n_, colsum, cost, n_);
    u[k] = step::log_scaling(a_[k], u[k], row_shift_[k]);
    return sum;
  });
}

#define OPTKERN_SINKHORN_PLAIN(T)                                              \
  template void SinkhornSolver<T>::start_plain(Team&, const SinkhornItem<T>&); \
  template SinkhornSolver<T>::Outcome SinkhornSolver<T>::iterate_plain(        \
      Team&, const SinkhornItem<T>&, int&);                                    \
  template void SinkhornSolver<T>::rescue_to_log(Team&);                       \
  template double SinkhornSolver<T>::finish_plain(Team&, const SinkhornItem<T>&);
OPTKERN_SINKHORN_PLAIN(float)
OPTKERN_SINKHORN_PLAIN(double)
#undef OPTKERN_SINKHORN_PLAIN

}  // namespace optkern::detail
