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
#include <omp.h>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "optkern/ot.hpp"
#include "optkern/threads.hpp"
#include "ot/team.hpp"

namespace optkern {
namespace {

using MatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using VectorD = Eigen::VectorXd;

// Buffers for one problem, reused across a thread's problems. Written by the team's first
// thread where noted, between barriers.
struct VjpWork {
  std::vector<double> r, c, rho, kappa;  // marginals of P and of W*P
  std::vector<index_t> small, large;     // active (nonzero) indices of the two sides
  bool by_rows = true;                   // whether the rows are the smaller side
  MatrixD G;                             // P on the active support, scaled by 1/sqrt(d_large)
  MatrixD S;                             // Gram matrix, then the Laplacian, then its factor
  VectorD x, y;                          // the multipliers of the small and large side
  std::vector<double> lambda, mu;        // the row and column multipliers, NaN where inactive
  SinkhornVjpStatus status = SinkhornVjpStatus::ok;

  const std::vector<double>& d_large() const { return by_rows ? c : r; }
  const std::vector<double>& rhs_small() const { return by_rows ? rho : kappa; }
  const std::vector<double>& rhs_large() const { return by_rows ? kappa : rho; }
};

// Marginals of P and W*P, the active supports, the side to eliminate, and G.
template <class T>
void prepare(index_t m, index_t n, const T* P, const T* Wg, VjpWork& w) {
  w.r.assign(std::size_t(m), 0.0);
  w.c.assign(std::size_t(n), 0.0);
  w.rho.assign(std::size_t(m), 0.0);
  w.kappa.assign(std::size_t(n), 0.0);
  for (index_t i = 0; i < m; ++i) {
    double r = 0, rho = 0;
    for (index_t j = 0; j < n; ++j) {
      const double p = double(P[i * n + j]), wp = p * double(Wg[i * n + j]);
      r += p;
      rho += wp;
      w.c[std::size_t(j)] += p;
      w.kappa[std::size_t(j)] += wp;
    }
    w.r[std::size_t(i)] = r;
    w.rho[std::size_t(i)] = rho;
  }
  std::vector<index_t> rows, cols;
  for (index_t i = 0; i < m; ++i)
    if (w.r[std::size_t(i)] > 0) rows.push_back(i);
  for (index_t j = 0; j < n; ++j)
    if (w.c[std::size_t(j)] > 0) cols.push_back(j);
  w.by_rows = rows.size() <= cols.size();
  w.small = w.by_rows ? rows : cols;
  w.large = w.by_rows ? cols : rows;
  const index_t k = index_t(w.small.size()), l = index_t(w.large.size());
  std::vector<double> scale(static_cast<std::size_t>(l));
  for (index_t q = 0; q < l; ++q)
    scale[std::size_t(q)] = 1.0 / std::sqrt(w.d_large()[std::size_t(w.large[std::size_t(q)])]);
  w.G.resize(k, l);
  for (index_t p = 0; p < k; ++p)
    for (index_t q = 0; q < l; ++q) {
      const index_t s = w.small[std::size_t(p)], t = w.large[std::size_t(q)];
      w.G(p, q) = double(w.by_rows ? P[s * n + t] : P[t * n + s]) * scale[std::size_t(q)];
    }
  w.S.resize(k, k);
}

// Lower triangle of S = G G^T, split over the team in row blocks of equal area (the block
// of rows [p0, p1) needs columns [0, p1)). Eigen's GEMM runs single-threaded inside a team.
void gram_lower(const MatrixD& G, MatrixD& S, detail::Team& team) {
  const index_t k = G.rows();
  auto edge = [&](int t) {
    return index_t(std::llround(double(k) * std::sqrt(double(t) / double(team.size))));
  };
  const index_t p0 = edge(team.rank), p1 = edge(team.rank + 1);
  if (p1 > p0)
    S.block(p0, 0, p1 - p0, p1).noalias() = G.middleRows(p0, p1 - p0) * G.topRows(p1).transpose();
}

// Relative size below which a Cholesky pivot counts as zero: rounding in the elimination
// leaves a pivot of about k * eps * S_pp where the exact one is zero (a disconnected part).
double singular_threshold(index_t k) {
  return 4.0 * double(std::max<index_t>(k, 16)) * std::numeric_limits<double>::epsilon();
}

// From the Gram matrix in w.S: the Laplacian, its grounded Cholesky factor, the multipliers
// in the minimum-norm gauge, and the status.
void solve_schur(index_t m, index_t n, VjpWork& w) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const index_t k = index_t(w.small.size()), l = index_t(w.large.size());
  // Laplacian from the strict lower triangle: S_pq = -Wt_pq, S_pp = sum_{q != p} Wt_pq.
  VectorD diag = VectorD::Zero(k);
  for (index_t p = 0; p < k; ++p)
    for (index_t q = 0; q < p; ++q) {
      const double wt = w.S(p, q);
      diag[p] += wt;
      diag[q] += wt;
      w.S(p, q) = -wt;
    }
  for (index_t p = 0; p < k; ++p) w.S(p, p) = diag[p];

  // Right-hand side rho_s - G (kappa_l / sqrt(d_l)); ground x_0 = 0 and factor S[1:, 1:].
  VectorD t(l);
  for (index_t q = 0; q < l; ++q) {
    const std::size_t jq = std::size_t(w.large[std::size_t(q)]);
    t[q] = w.rhs_large()[jq] / std::sqrt(w.d_large()[jq]);
  }
  VectorD rhs = -(w.G * t);
  for (index_t p = 0; p < k; ++p) rhs[p] += w.rhs_small()[std::size_t(w.small[std::size_t(p)])];
  w.x = VectorD::Zero(k);
  w.status = SinkhornVjpStatus::ok;
  if (k > 1) {
    Eigen::Ref<MatrixD> block = w.S.bottomRightCorner(k - 1, k - 1);
    Eigen::LLT<Eigen::Ref<MatrixD>, Eigen::Lower> llt(block);  // factors in place
    bool ok = llt.info() == Eigen::Success;
    const double threshold = singular_threshold(k);
    for (index_t p = 0; ok && p < k - 1; ++p) {
      const double pivot = block(p, p) * block(p, p);
      ok = std::isfinite(pivot) && pivot > threshold * diag[p + 1];
    }
    if (ok) {
      w.x.tail(k - 1) = llt.solve(rhs.tail(k - 1));
      ok = w.x.allFinite();
    }
    if (!ok) w.status = SinkhornVjpStatus::singular;
  }
  // Large side: y_q = (rhs_l - sqrt(d_l) (G^T x)_q) / d_l.
  w.y = w.G.transpose() * w.x;
  for (index_t q = 0; q < l; ++q) {
    const std::size_t jq = std::size_t(w.large[std::size_t(q)]);
    w.y[q] = (w.rhs_large()[jq] - std::sqrt(w.d_large()[jq]) * w.y[q]) / w.d_large()[jq];
  }
  // Minimum-norm gauge of (x, y) + t (1, -1): sum lambda = sum mu.
  const double shift = (w.y.sum() - w.x.sum()) / double(k + l);
  w.lambda.assign(std::size_t(m), nan);
  w.mu.assign(std::size_t(n), nan);
  if (w.status != SinkhornVjpStatus::ok) return;
  std::vector<double>& on_small = w.by_rows ? w.lambda : w.mu;
  std::vector<double>& on_large = w.by_rows ? w.mu : w.lambda;
  for (index_t p = 0; p < k; ++p) on_small[std::size_t(w.small[std::size_t(p)])] = w.x[p] + shift;
  for (index_t q = 0; q < l; ++q) on_large[std::size_t(w.large[std::size_t(q)])] = w.y[q] - shift;
}

template <class T>
void vjp_one(index_t m, index_t n, const T* P, const T* Wg, double reg, T* grad_M, T* grad_a,
             T* grad_b, VjpWork& w, detail::Team& team) {
  if (team.rank == 0) prepare(m, n, P, Wg, w);
  team.sync();
  gram_lower(w.G, w.S, team);
  team.sync();
  if (team.rank == 0) solve_schur(m, n, w);
  team.sync();

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
                  T* grad_M, T* grad_a, T* grad_b, SinkhornVjpStatus* status, int num_threads) {
  require(batch >= 0, "batch", "must be >= 0");
  require(m >= 1 && n >= 1, "P", "must have at least one row and one column");
  require(std::isfinite(reg) && reg > 0, "reg",
          "expected a positive finite number, got " + std::to_string(reg));
  if (batch == 0) return;
  require(P && grad_P && grad_M && grad_a && grad_b && status, "P", "null pointer");
  const int threads = num_threads > 0 ? num_threads : optkern::num_threads();
  const bool over_batch = batch >= threads || std::min(m, n) < 64;
  const int nt = int(over_batch ? std::min<index_t>(threads, batch) : threads);
  std::vector<VjpWork> work(std::size_t(over_batch ? nt : 1));
  auto run = [&](index_t item, VjpWork& w, detail::Team& team) {
    const index_t off = item * m * n;
    vjp_one<T>(m, n, P + off, grad_P + off, reg, grad_M + off, grad_a + item * m,
               grad_b + item * n, w, team);
    if (team.rank == 0) status[item] = w.status;
  };
  if (over_batch) {
#pragma omp parallel num_threads(nt)
    {
      omp_set_num_threads(1);  // this thread's Eigen calls stay single-threaded
      detail::Team team;
#pragma omp for schedule(dynamic, 1)
      for (index_t item = 0; item < batch; ++item)
        run(item, work[std::size_t(omp_get_thread_num())], team);
    }
  } else {
    for (index_t item = 0; item < batch; ++item) {
#pragma omp parallel num_threads(nt)
      {
        omp_set_num_threads(1);
        detail::Team team;
        team.size = omp_get_num_threads();
        team.rank = omp_get_thread_num();
        run(item, work[0], team);
      }
    }
  }
}

template void sinkhorn_vjp<float>(index_t, index_t, index_t, const float*, const float*, double,
                                  float*, float*, float*, SinkhornVjpStatus*, int);
template void sinkhorn_vjp<double>(index_t, index_t, index_t, const double*, const double*,
                                   double, double*, double*, double*, SinkhornVjpStatus*, int);

}  // namespace optkern
