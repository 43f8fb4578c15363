// Sinkhorn: argument checks, the batch and thread layout, the choice of method, and what both
// methods share (weights, gauge, outputs). The iterations are in sinkhorn_plain.cpp and
// sinkhorn_log.cpp.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "common/parallel_items.hpp"
#include "optkern/ot.hpp"
#include "optkern/threads.hpp"
#include "ot/row_kernels.hpp"
#include "ot/sinkhorn_solver.hpp"

namespace optkern {
namespace detail {

template <class T>
SinkhornSolver<T>::SinkhornSolver(index_t m, index_t n, int team_size,
                                  const SinkhornOptions& options, Interrupt* interrupt)
    : m_(m),
      n_(n),
      team_size_(team_size),
      opt_(options),
      inv_reg_(1.0 / options.reg),
      interrupt_(interrupt) {
  const auto M = std::size_t(m), N = std::size_t(n), S = std::size_t(team_size);
  a_.resize(M);
  b_.resize(N);
  log_a_.resize(M);
  log_b_.resize(N);
  row_pot_.resize(M);
  col_pot_.resize(2 * S * N);
  col_final_.resize(N);
  row_shift_.resize(M);
  col_shift_.resize(N);
  row_sums_.resize(M);
  col_sums_.resize(N);
  partial_.resize(2 * S * N);
  flags_.resize(2 * S * 3);
  row_buffer_.resize(S * N);
  if (std::is_same_v<T, float>) col_float_.resize(S * N);
  reduce_[0].resize(S);
  reduce_[1].resize(S);
}

template <class T>
void SinkhornSolver<T>::prepare_weights(Team& team, const SinkhornItem<T>& item) {
  if (team.rank == 0) {
    double sa = 0, sb = 0;
    for (index_t i = 0; i < m_; ++i) sa += double(item.a[i]);
    for (index_t j = 0; j < n_; ++j) sb += double(item.b[j]);
    // b is given the mass of a exactly (the caller checked step::masses_agree).
    const double scale_b = sa / sb;
    for (index_t i = 0; i < m_; ++i) {
      a_[std::size_t(i)] = double(item.a[i]);
      log_a_[std::size_t(i)] = step::log_weight(a_[std::size_t(i)]);
    }
    for (index_t j = 0; j < n_; ++j) {
      b_[std::size_t(j)] = double(item.b[j]) * scale_b;
      log_b_[std::size_t(j)] = step::log_weight(b_[std::size_t(j)]);
    }
    mass_ = sa;
  }
  team.sync();
}

// alpha_i = min_j M_ij, beta_j = min_i (M_ij - alpha_i), stored divided by reg.
template <class T>
void SinkhornSolver<T>::compute_shifts(Team& team, const T* M) {
  const double inf = std::numeric_limits<double>::infinity();
  double* colmin = partial(0, team.rank);
  std::fill(colmin, colmin + n_, inf);
  const auto [r0, r1] = team.share(m_);
  for (index_t i = r0; i < r1; ++i) {
    double lo, hi;
    row_min_max(M + i * n_, n_, &lo, &hi);
    row_shift_[std::size_t(i)] = lo;  // in cost units until the end of this function
    fold_column_min(M + i * n_, lo, colmin, n_);
  }
  team.sync();
  const auto [c0, c1] = team.share(n_);
  for (index_t j = c0; j < c1; ++j) {
    double lo = inf;
    for (int t = 0; t < team.size; ++t) lo = std::min(lo, partial(0, t)[j]);
    col_shift_[std::size_t(j)] = lo * inv_reg_;
  }
  for (index_t i = r0; i < r1; ++i) row_shift_[std::size_t(i)] *= inv_reg_;
  team.sync();
}

// max_ij (M_ij - alpha_i - beta_j) / reg: -log of the smallest entry of the shifted kernel.
template <class T>
double SinkhornSolver<T>::shifted_range(Team& team, const T* M) {
  const auto [r0, r1] = team.share(m_);
  double hi = 0;
  for (index_t i = r0; i < r1; ++i)
    hi = std::max(hi, row_max_exponent(M + i * n_, row_shift_[std::size_t(i)], col_shift_.data(),
                                       inv_reg_, n_));
  return team_max(team, hi);
}

template <class T>
SinkhornMethod SinkhornSolver<T>::choose_method(Team& team, const SinkhornItem<T>& item) {
  if (!step::needs_shifts(opt_.method)) return SinkhornMethod::log;
  compute_shifts(team, item.M);
  const bool measure = opt_.method == SinkhornMethod::automatic;
  return step::choose_method<T>(opt_.method, measure ? shifted_range(team, item.M) : 0.0);
}

template <class T>
bool SinkhornSolver<T>::solve(Team& team, const SinkhornItem<T>& item) {
  prepare_weights(team, item);
  SinkhornMethod method = choose_method(team, item);
  int iter = 0;
  if (method == SinkhornMethod::plain) {
    start_plain(team, item);
    const Outcome outcome = iterate_plain(team, item, iter);
    if (outcome == Outcome::interrupted) return false;
    if (outcome != Outcome::breakdown) {
      const double cost = finish_plain(team, item);
      finish_potentials(team, item, method, iter, cost);
      return true;
    }
    // The scalings left the range of double at iteration `iter`: redo it, and go on, in the
    // log domain from the last finite iterate.
    rescue_to_log(team);
    method = SinkhornMethod::log;
    --iter;
  } else {
    start_log(team, item);
  }
  if (iterate_log(team, item, iter) == Outcome::interrupted) return false;
  const double cost = finish_log(team, item);
  finish_potentials(team, item, method, iter, cost);
  return true;
}

// Fixes the gauge <a, f> = <b, g>, writes f, g and the status.
template <class T>
void SinkhornSolver<T>::finish_potentials(Team& team, const SinkhornItem<T>& item,
                                          SinkhornMethod method, int iter, double cost) {
  double* f = row_pot_.data();
  double* g = col_final_.data();
  const double* colsum = col_sums_.data();
  const auto [r0, r1] = team.share(m_);
  const auto [c0, c1] = team.share(n_);
  step::FinalSums sums;
  for (index_t i = r0; i < r1; ++i)
    sums.add_row(a_[std::size_t(i)], f[std::size_t(i)], row_sums_[std::size_t(i)]);
  for (index_t j = c0; j < c1; ++j)
    sums.add_column(b_[std::size_t(j)], g[std::size_t(j)], colsum[std::size_t(j)]);
  sums.bg = team_sum(team, sums.bg);
  sums.af = team_sum(team, sums.af);
  const double shift = step::gauge_shift(sums.bg, sums.af, mass_);
  sums.error = team_max(team, sums.error);
  sums.heaviest = team_max(team, sums.heaviest);
  sums.total = team_sum(team, sums.total);
  double fr = 0, gc = 0;
  for (index_t i = r0; i < r1; ++i) {
    const std::size_t k = std::size_t(i);
    f[k] += shift;
    item.f[i] = T(f[k]);
    fr += f[k] * row_sums_[k];
  }
  for (index_t j = c0; j < c1; ++j) {
    const std::size_t k = std::size_t(j);
    g[k] -= shift;
    item.g[j] = T(g[k]);
    gc += g[k] * colsum[k];
  }
  fr = team_sum(team, fr);
  gc = team_sum(team, gc);
  cost = team_sum(team, cost);
  if (team.rank == 0)
    step::write_status<T>(*item.status, opt_.reg, opt_.tol, mass_, iter, method, sums, cost, fr,
                          gc);
  team.sync();
}

}  // namespace detail

template <class T>
void sinkhorn(const SinkhornProblem<T>& p, const SinkhornOptions& o, const SinkhornOutput<T>& out,
              Interrupt* interrupt) {
  require(p.batch >= 0, "batch", "must be >= 0, got " + std::to_string(p.batch));
  require(p.m >= 1, "M", "must have at least one row");
  require(p.n >= 1, "M", "must have at least one column");
  require(std::isfinite(o.reg) && o.reg > 0, "reg",
          "expected a positive finite number, got " + std::to_string(o.reg));
  require(std::isfinite(o.tol) && o.tol >= 0, "tol",
          "expected a finite number >= 0, got " + std::to_string(o.tol));
  require(o.max_iter >= 1, "max_iter",
          "expected an integer >= 1, got " + std::to_string(o.max_iter));
  require(o.check_every >= 1, "check_every", "expected an integer >= 1");
  require(o.method == SinkhornMethod::automatic || o.method == SinkhornMethod::plain ||
              o.method == SinkhornMethod::log,
          "method", "expected automatic, plain or log");
  if (p.batch == 0) return;
  require(p.M && p.a && p.b, "M", "null input pointer");
  require(out.plan && out.f && out.g && out.status, "plan", "null output pointer");
  for (index_t k = 0; k < p.batch; ++k) {
    for (const auto& [w, size, stride, name] :
         {std::tuple{p.a, p.m, p.a_stride, "a"}, std::tuple{p.b, p.n, p.b_stride, "b"}}) {
      double sum = 0;
      bool ok = true;
      for (index_t i = 0; i < size; ++i) {
        const double x = double(w[k * stride + i]);
        ok = ok && detail::step::weight_ok(x);
        sum += x;
      }
      require(ok, name, "expected finite weights >= 0");
      require(sum > 0, name, "expected weights with a positive sum, got all zeros");
    }
    double sa = 0, sb = 0;
    for (index_t i = 0; i < p.m; ++i) sa += double(p.a[k * p.a_stride + i]);
    for (index_t j = 0; j < p.n; ++j) sb += double(p.b[k * p.b_stride + j]);
    require(detail::step::masses_agree(sa, sb), "b",
            "expected the total mass of a (" + std::to_string(sa) + "), got " + std::to_string(sb));
  }

  const int threads = detail::region_threads(o.num_threads > 0 ? o.num_threads : num_threads());
  auto item = [&](index_t k) {
    detail::SinkhornItem<T> it;
    it.M = p.M + k * p.M_stride;
    it.a = p.a + k * p.a_stride;
    it.b = p.b + k * p.b_stride;
    it.init_g = p.init_g ? p.init_g + k * p.init_g_stride : nullptr;
    it.plan = out.plan + k * p.m * p.n;
    it.f = out.f + k * p.m;
    it.g = out.g + k * p.n;
    it.status = out.status + k;
    return it;
  };
  // A team per problem only pays when an iteration is long next to a barrier (a few
  // microseconds, much more when the machine is oversubscribed); small problems go one per
  // thread.
  const bool over_batch = p.batch >= threads || p.m * p.n < 512 * 512;
  if (over_batch) {
    detail::parallel_items(
        p.batch, threads, 1, interrupt,
        [&] { return std::make_unique<detail::SinkhornSolver<T>>(p.m, p.n, 1, o, interrupt); },
        [&](auto& solver, index_t k) {
          detail::Team team;
          solver->solve(team, item(k));
        });
  } else {
    const int nt = int(std::min<index_t>(threads, std::max<index_t>(1, p.m / 8)));
    detail::SinkhornSolver<T> solver(p.m, p.n, nt, o, interrupt);
    detail::SpinBarrier barrier;
    // The team meets at barriers inside solve(); its scratch is allocated above, and a member
    // that throws anyway breaks the barrier so that its partners return (run_in_team).
    detail::RegionErrors errors;
    for (index_t k = 0; k < p.batch && !errors.failed() && !(interrupt && interrupt->stopped());
         ++k) {
#pragma omp parallel num_threads(nt)
      {
        detail::Team team = detail::omp_team(&barrier);
        detail::run_in_team(errors, barrier, [&] { solver.solve(team, item(k)); });
      }
    }
    errors.rethrow_if_failed();
  }
  detail::throw_if_stopped(interrupt);
}

template void sinkhorn<float>(const SinkhornProblem<float>&, const SinkhornOptions&,
                              const SinkhornOutput<float>&, Interrupt*);
template void sinkhorn<double>(const SinkhornProblem<double>&, const SinkhornOptions&,
                               const SinkhornOutput<double>&, Interrupt*);

}  // namespace optkern
