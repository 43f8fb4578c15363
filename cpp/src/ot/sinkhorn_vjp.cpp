// Backward of the Sinkhorn plan by implicit differentiation (ot.hpp): the Schur complement of
// the KKT system on the smaller side, assembled as a grounded graph Laplacian in double and
// factored by Cholesky (Gould's lecture notes, eqs 141-146, in the leaner form of
// shared/reference/seed-004-gould.md section 5.3, which needs no n x n block).
//
// With r = P1, c = P^T 1 and W = dL/dP, solve [diag(r) P; P^T diag(c)] [x; y] = [rho; kappa]
// for rho = (W*P)1, kappa = (W*P)^T 1. Eliminating y (rows the smaller side):
//   S x = rho - P (kappa / c),  S = diag(r) - P diag(1/c) P^T,  y = (kappa - P^T x) / c.
// S is the Laplacian of the graph whose edge weights are Wt_pq = sum_j P_pj P_qj / c_j, so
// S = diag(Wt 1 - diag(Wt)) - offdiag(Wt): its diagonal is formed from the off-diagonal entries
// instead of subtracting two nearly equal numbers (r_p - Wt_pp), which keeps its smallest
// eigenvalues accurate at small reg. S has the null vector 1; grounding x_0 = 0 leaves a
// positive definite block exactly when the support of P is connected.
//
// The null space, one treatment (python/optkern/torch/_device_vjp.py, the torch adapter's
// backward on CUDA, does the same step for step): the smaller side is the one with fewer
// active (nonzero) rows or columns (rows on a tie); all-zero rows and columns leave the
// system; the first active node of the smaller side is grounded and the rest of S factored;
// a pivot not above singular_threshold(k) times its diagonal entry, or a solution that is
// not finite, makes the problem singular (NaN gradients); (x, y) is then shifted to the
// minimum-norm gauge sum lambda = sum mu.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "common/parallel_guard.hpp"
#include "optkern/ot.hpp"
#include "optkern/ot/sinkhorn_step.hpp"
#include "optkern/threads.hpp"
#include "ot/team.hpp"
#include "ot/team_cholesky.hpp"

namespace optkern {
namespace {

using detail::MatrixD;
using detail::Team;
using VectorD = Eigen::VectorXd;

// Buffers for one problem, allocated once for the largest sizes and reused across a thread's
// (or a team's) problems; the team writes them between barriers as noted.
struct VjpWork {
  VjpWork(index_t m, index_t n, int team_size)
      : r(std::size_t(m)), c(std::size_t(n)), rho(std::size_t(m)), kappa(std::size_t(n)),
        partial(std::size_t(team_size) * 2 * std::size_t(n)), small(std::size_t(std::min(m, n))),
        large(std::size_t(std::max(m, n))), scale(std::size_t(std::max(m, n))),
        G(std::min(m, n), std::max(m, n)), Gt(std::max(m, n), std::min(m, n)),
        S(std::min(m, n), std::min(m, n)),
        diag(std::size_t(std::min(m, n))), x(std::min(m, n)), rhs(std::min(m, n)),
        y(std::max(m, n)), lambda(std::size_t(m)), mu(std::size_t(n)) {}

  std::vector<double> r, c, rho, kappa;  // marginals of P and of W*P
  std::vector<double> partial;           // per thread: column sums of P and of W*P
  std::vector<index_t> small, large;     // active (nonzero) indices of the two sides
  std::vector<double> scale;             // 1 / sqrt(d_large) per active large index
  MatrixD G;                             // P on the active support, scaled: k x l used
  MatrixD Gt;                            // its transpose (l x k), the GEMM's contiguous B
  MatrixD S;                             // Gram matrix, then the Laplacian, then its factor
  std::vector<double> diag;              // the Laplacian's diagonal
  VectorD x, rhs, y;                     // multipliers of the small and the large side
  std::vector<double> lambda, mu;        // row and column multipliers, NaN where inactive
  index_t k = 0, l = 0;                  // active sizes of the small and the large side
  bool by_rows = true;                   // whether the rows are the smaller side
  bool ok = true;                        // team flag for the factorization
  SinkhornVjpStatus status = SinkhornVjpStatus::ok;

  const std::vector<double>& d_large() const { return by_rows ? c : r; }
  const std::vector<double>& rhs_small() const { return by_rows ? rho : kappa; }
  const std::vector<double>& rhs_large() const { return by_rows ? kappa : rho; }
};

// r, rho (my rows) and c, kappa (summed over the team's per-thread partials).
template <class T>
void marginals(index_t m, index_t n, const T* P, const T* Wg, VjpWork& w, Team& team) {
  double* cp = w.partial.data() + std::size_t(team.rank) * 2 * std::size_t(n);
  double* kp = cp + n;
  std::fill(cp, cp + 2 * n, 0.0);
  const auto [r0, r1] = team.share(m);
  for (index_t i = r0; i < r1; ++i) {
    double r = 0, rho = 0;
    for (index_t j = 0; j < n; ++j) {
      const double p = double(P[i * n + j]), wp = p * double(Wg[i * n + j]);
      r += p;
      rho += wp;
      cp[j] += p;
      kp[j] += wp;
    }
    w.r[std::size_t(i)] = r;
    w.rho[std::size_t(i)] = rho;
  }
  team.sync();
  const auto [c0, c1] = team.share(n);
  for (index_t j = c0; j < c1; ++j) {
    double c = 0, kappa = 0;
    for (int t = 0; t < team.size; ++t) {
      c += w.partial[std::size_t(t) * 2 * std::size_t(n) + std::size_t(j)];
      kappa += w.partial[std::size_t(t) * 2 * std::size_t(n) + std::size_t(n + j)];
    }
    w.c[std::size_t(j)] = c;
    w.kappa[std::size_t(j)] = kappa;
  }
  team.sync();
}

// Rows r0..r1 of dst = columns r0..r1 of src's first `count` rows, in square tiles: a column
// walk of src touched a new cache line per element (a tenth of a 1000 x 1000 backward).
void transpose_rows(const MatrixD& src, index_t count, index_t r0, index_t r1, MatrixD& dst) {
  constexpr index_t kTile = 32;
  for (index_t c0 = 0; c0 < count; c0 += kTile) {
    const index_t c1 = std::min(count, c0 + kTile);
    for (index_t t0 = r0; t0 < r1; t0 += kTile) {
      const index_t t1 = std::min(r1, t0 + kTile);
      for (index_t c = c0; c < c1; ++c)
        for (index_t r = t0; r < t1; ++r) dst(r, c) = src(c, r);
    }
  }
}

// dst(p, q) = P(outer[p], inner[q]) * scale[q or p] for this thread's share of the `count`
// outer indices (kScaleOuter: by p, else by q); rows of P are read in order.
template <bool kScaleOuter, class T>
void gather_scaled(const T* P, index_t n, const std::vector<index_t>& outer, index_t count,
                   const std::vector<index_t>& inner, index_t inner_count,
                   const std::vector<double>& scale, MatrixD& dst, Team& team) {
  const auto [p0, p1] = team.share(count);
  for (index_t p = p0; p < p1; ++p) {
    const T* row = P + outer[std::size_t(p)] * n;
    for (index_t q = 0; q < inner_count; ++q)
      dst(p, q) = double(row[inner[std::size_t(q)]]) *
                  scale[std::size_t(kScaleOuter ? p : q)];
  }
  team.sync();
}

// The active supports, the side to eliminate and G_pq = P(small p, large q) / sqrt(d_large q).
template <class T>
void form_g(index_t m, index_t n, const T* P, VjpWork& w, Team& team) {
  if (team.rank == 0) {
    index_t rows = 0, cols = 0;
    for (index_t i = 0; i < m; ++i) rows += w.r[std::size_t(i)] > 0;
    for (index_t j = 0; j < n; ++j) cols += w.c[std::size_t(j)] > 0;
    w.by_rows = rows <= cols;
    w.k = w.by_rows ? rows : cols;
    w.l = w.by_rows ? cols : rows;
    index_t ks = 0, ls = 0;
    for (index_t i = 0; i < m; ++i)
      if (w.r[std::size_t(i)] > 0) (w.by_rows ? w.small[std::size_t(ks++)] : w.large[std::size_t(ls++)]) = i;
    for (index_t j = 0; j < n; ++j)
      if (w.c[std::size_t(j)] > 0) (w.by_rows ? w.large[std::size_t(ls++)] : w.small[std::size_t(ks++)]) = j;
    for (index_t q = 0; q < w.l; ++q)
      w.scale[std::size_t(q)] = 1.0 / std::sqrt(w.d_large()[std::size_t(w.large[std::size_t(q)])]);
    w.status = SinkhornVjpStatus::ok;
  }
  team.sync();
  if (w.by_rows) {  // row p of G from row small[p] of P, then G^T
    gather_scaled<false>(P, n, w.small, w.k, w.large, w.l, w.scale, w.G, team);
    const auto [q0, q1] = team.share(w.l);
    transpose_rows(w.G, w.k, q0, q1, w.Gt);
  } else {  // row q of G^T from row large[q] of P, then G
    gather_scaled<true>(P, n, w.large, w.l, w.small, w.k, w.scale, w.Gt, team);
    const auto [p0, p1] = team.share(w.k);
    transpose_rows(w.Gt, w.l, p0, p1, w.G);
  }
  team.sync();
}

// The Laplacian from the Gram matrix's lower triangle: S_pq = -Wt_pq (p != q) and
// S_pp = sum_{q != p} Wt_pq, then the right-hand side rho_s - G (kappa_l / sqrt(d_l)).
void laplacian_and_rhs(VjpWork& w, Team& team) {
  const index_t k = w.k, l = w.l;
  auto S = w.S.topLeftCorner(k, k);
  const auto [p0, p1] = team.share(k);
  for (index_t p = p0; p < p1; ++p)  // mirror: row p's upper part is column p's lower part
    for (index_t q = p + 1; q < k; ++q) S(p, q) = S(q, p);
  team.sync();
  for (index_t p = p0; p < p1; ++p) {
    double d = 0;
    for (index_t q = 0; q < k; ++q)
      if (q != p) {
        d += S(p, q);
        S(p, q) = -S(p, q);
      }
    S(p, p) = d;
    w.diag[std::size_t(p)] = d;
  }
  const auto [q0, q1] = team.share(l);
  for (index_t q = q0; q < q1; ++q) {  // y is scratch here: kappa_l / sqrt(d_l)
    const std::size_t jq = std::size_t(w.large[std::size_t(q)]);
    w.y[q] = w.rhs_large()[jq] * w.scale[std::size_t(q)];
  }
  team.sync();
  const auto G = w.G.topLeftCorner(k, l);
  for (index_t p = p0; p < p1; ++p)
    w.rhs[p] = w.rhs_small()[std::size_t(w.small[std::size_t(p)])] - G.row(p).dot(w.y.head(l));
  team.sync();
}

// Relative size below which a Cholesky pivot counts as zero (detail::sinkhorn_step).
double singular_threshold(index_t k) {
  return detail::sinkhorn_step::kPivotRtol * double(std::max<index_t>(k, 16));
}

// Ground x_0 = 0, factor S[1:, 1:] over the team, solve; then the large side, the gauge and
// the multipliers.
void solve_multipliers(index_t m, index_t n, VjpWork& w, Team& team) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const index_t k = w.k, l = w.l;
  bool good = true;
  if (k > 1) {
    good = detail::team_cholesky(w.S.block(1, 1, k - 1, k - 1), w.diag.data() + 1,
                                 singular_threshold(k), team, &w.ok);
  }
  if (team.rank == 0) {
    w.x.head(k).setZero();
    if (good && k > 1) {
      auto L = w.S.block(1, 1, k - 1, k - 1);
      auto x = w.x.segment(1, k - 1);
      x = w.rhs.segment(1, k - 1);
      L.triangularView<Eigen::Lower>().solveInPlace(x);
      L.transpose().triangularView<Eigen::Upper>().solveInPlace(x);
      good = x.allFinite();
    }
    w.status = good ? SinkhornVjpStatus::ok : SinkhornVjpStatus::singular;
  }
  team.sync();
  // Large side: y_q = (rhs_l - sqrt(d_l) (G^T x)_q) / d_l, columns split over the team.
  const auto Gt = w.Gt.topLeftCorner(l, k);
  const auto [q0, q1] = team.share(l);
  for (index_t q = q0; q < q1; ++q) {
    const std::size_t jq = std::size_t(w.large[std::size_t(q)]);
    const double s = w.scale[std::size_t(q)];  // 1 / sqrt(d_l)
    w.y[q] = (w.rhs_large()[jq] - Gt.row(q).dot(w.x.head(k)) / s) * s * s;
  }
  team.sync();
  if (team.rank == 0) {
    // Minimum-norm gauge of (x, y) + t (1, -1): sum lambda = sum mu.
    const double shift = (w.y.head(l).sum() - w.x.head(k).sum()) / double(k + l);
    std::fill(w.lambda.begin(), w.lambda.end(), nan);
    std::fill(w.mu.begin(), w.mu.end(), nan);
    if (w.status == SinkhornVjpStatus::ok) {
      std::vector<double>& on_small = w.by_rows ? w.lambda : w.mu;
      std::vector<double>& on_large = w.by_rows ? w.mu : w.lambda;
      for (index_t p = 0; p < k; ++p) on_small[std::size_t(w.small[std::size_t(p)])] = w.x[p] + shift;
      for (index_t q = 0; q < l; ++q) on_large[std::size_t(w.large[std::size_t(q)])] = w.y[q] - shift;
    }
  }
  team.sync();
  (void)m;
  (void)n;
}

template <class T>
void vjp_one(index_t m, index_t n, const T* P, const T* Wg, double reg, T* grad_M, T* grad_a,
             T* grad_b, VjpWork& w, Team& team) {
  marginals(m, n, P, Wg, w, team);
  form_g(m, n, P, w, team);
  const MatrixD& G = w.G;
  const MatrixD& Gt = w.Gt;
  detail::team_gram_lower(G.topLeftCorner(w.k, w.l), Gt.topLeftCorner(w.l, w.k),
                          w.S.topLeftCorner(w.k, w.k), team);
  laplacian_and_rhs(w, team);
  solve_multipliers(m, n, w, team);

  // dL/dM_ij = P_ij (lambda_i + mu_j - W_ij) / reg: zero on all-zero rows and columns, NaN
  // everywhere when the system was singular.
  const double inv_reg = 1.0 / reg, nan = std::numeric_limits<double>::quiet_NaN();
  const bool singular = w.status != SinkhornVjpStatus::ok;
  const auto [r0, r1] = team.share(m);
  for (index_t i = r0; i < r1; ++i) {
    const double li = w.lambda[std::size_t(i)];
    for (index_t j = 0; j < n; ++j) {
      const double p = double(P[i * n + j]);
      const double gm = singular ? nan
                        : p == 0 ? 0.0
                                 : p * (li + w.mu[std::size_t(j)] - double(Wg[i * n + j])) * inv_reg;
      grad_M[i * n + j] = T(gm);
    }
    grad_a[i] = T(li);
  }
  const auto [c0, c1] = team.share(n);
  for (index_t j = c0; j < c1; ++j) grad_b[j] = T(w.mu[std::size_t(j)]);
  team.sync();
}

}  // namespace

template <class T>
void sinkhorn_vjp(index_t batch, index_t m, index_t n, const T* P, const T* grad_P, double reg,
                  T* grad_M, T* grad_a, T* grad_b, SinkhornVjpStatus* status, int num_threads,
                  Interrupt* interrupt) {
  require(batch >= 0, "batch", "must be >= 0");
  require(m >= 1 && n >= 1, "P", "must have at least one row and one column");
  require(std::isfinite(reg) && reg > 0, "reg",
          "expected a positive finite number, got " + std::to_string(reg));
  if (batch == 0) return;
  require(P && grad_P && grad_M && grad_a && grad_b && status, "P", "null pointer");
  const int threads =
      detail::region_threads(num_threads > 0 ? num_threads : optkern::num_threads());
  // Threads go over the batch, or share each problem when there are fewer problems.
  const bool over_batch = batch >= threads || std::min(m, n) < 64;
  const int nt = int(over_batch ? std::min<index_t>(threads, batch) : threads);
  std::vector<std::unique_ptr<VjpWork>> work;
  for (int t = 0; t < (over_batch ? nt : 1); ++t)
    work.push_back(std::make_unique<VjpWork>(m, n, over_batch ? 1 : nt));
  auto run = [&](index_t item, VjpWork& w, Team& team) {
    const index_t off = item * m * n;
    vjp_one<T>(m, n, P + off, grad_P + off, reg, grad_M + off, grad_a + item * m,
               grad_b + item * n, w, team);
    if (team.rank == 0) status[item] = w.status;
  };
  detail::RegionErrors errors;
  if (over_batch) {
#pragma omp parallel num_threads(nt)
    {
      omp_set_num_threads(1);  // this thread's Eigen products stay single-threaded
      Team team;
#pragma omp for schedule(dynamic, 1)
      for (index_t item = 0; item < batch; ++item) {
        if (errors.failed() || detail::poll(interrupt)) continue;  // the rest are skipped
        errors.guard([&] { run(item, *work[std::size_t(omp_get_thread_num())], team); });
      }
    }
  } else {
    // The team meets at barriers inside run(); its scratch (work[0]) is allocated above, and a
    // member that throws anyway breaks the barrier so that its partners return (run_in_team).
    detail::SpinBarrier barrier;
    for (index_t item = 0; item < batch && !errors.failed() && !detail::poll(interrupt);
         ++item) {
#pragma omp parallel num_threads(nt)
      {
        omp_set_num_threads(1);
        Team team = detail::omp_team(&barrier);
        detail::run_in_team(errors, barrier, [&] { run(item, *work[0], team); });
      }
    }
  }
  errors.rethrow_if_failed();
  detail::throw_if_stopped(interrupt);
}

template void sinkhorn_vjp<float>(index_t, index_t, index_t, const float*, const float*, double,
                                  float*, float*, float*, SinkhornVjpStatus*, int, Interrupt*);
template void sinkhorn_vjp<double>(index_t, index_t, index_t, const double*, const double*,
                                   double, double*, double*, double*, SinkhornVjpStatus*, int,
                                   Interrupt*);

}  // namespace optkern
