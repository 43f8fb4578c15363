// Sinkhorn between point clouds with the cost computed on the fly (optkern/ot/points.hpp).
// One soft-min pass computes, for each row i of one side (threads over rows), the costs
// c(x_i, y_j) of its row into a per-thread buffer (vectorised over j, the other cloud stored
// transposed), then the row's stabilised log-sum-exp with the vectorised exp of
// row_kernels.hpp. An iteration is two such passes (rows, then columns with the sides
// swapped): O(m n d) flops, O((m + n) d) memory plus one buffer per thread.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "optkern/ot.hpp"
#include "optkern/ot/sinkhorn_step.hpp"
#include "optkern/threads.hpp"
#include "ot/row_kernels.hpp"

namespace optkern {
namespace {

// A cloud as doubles, transposed (d x count) so that a cost row is a loop over contiguous j.
template <class T>
std::vector<double> transposed(const T* x, index_t count, index_t d) {
  std::vector<double> t(static_cast<std::size_t>(count * d));
  for (index_t j = 0; j < count; ++j)
    for (index_t k = 0; k < d; ++k) t[std::size_t(k * count + j)] = double(x[j * d + k]);
  return t;
}

// c_j = cost(p, Q_j) for the q points of Qt (d x q).
void cost_row(const double* p, const double* Qt, index_t q, index_t d, PointsCost cost,
              double* c) {
  for (index_t j = 0; j < q; ++j) c[j] = 0;
  for (index_t k = 0; k < d; ++k) {
    const double pk = p[k];
    const double* row = Qt + k * q;
#pragma omp simd
    for (index_t j = 0; j < q; ++j) {
      const double diff = pk - row[j];
      c[j] += diff * diff;
    }
  }
  if (cost == PointsCost::euclidean) {
#pragma omp simd
    for (index_t j = 0; j < q; ++j) c[j] = std::sqrt(c[j]);
  }
}

struct Side {
  const double* P;   // the points of this side, row-major (count x d), as doubles
  const double* Qt;  // the other side, transposed (d x q)
  index_t p, q, d;
};

// out_i = -LSE_j(H_j - c(P_i, Q_j) / reg) for the rows with w_i > 0 (else left alone).
void soft_min(const Side& s, const double* H, const double* w, double inv_reg, PointsCost cost,
              int threads, std::vector<std::vector<double>>& buffers, double* out) {
#pragma omp parallel num_threads(threads)
  {
    std::vector<double>& c = buffers[std::size_t(omp_get_thread_num())];
#pragma omp for schedule(static)
    for (index_t i = 0; i < s.p; ++i) {
      if (!(w[i] > 0)) continue;
      cost_row(s.P + i * s.d, s.Qt, s.q, s.d, cost, c.data());
      const double hi = detail::row_max(c.data(), H, inv_reg, s.q);
      out[i] = -(hi + std::log(detail::row_sum_exp(c.data(), H, inv_reg, hi, s.q)));
    }
  }
}

// Threads for a pass over p x q entries: one below about a millisecond of work (a parallel
// region per pass costs more than that on a busy machine), else as asked.
int pass_threads(int requested, index_t p, index_t q) {
  return p * q < (index_t(1) << 18) ? 1 : std::max(1, requested);
}

}  // namespace

template <class T>
void sinkhorn_points(index_t m, index_t n, index_t d, const T* x, const T* y, const T* a,
                     const T* b, const double* init_g, const PointsOptions& o, double* f,
                     double* g, PointsStatus* status, Interrupt* interrupt) {
  require(m >= 1 && n >= 1 && d >= 1, "x", "sizes must be >= 1");
  require(o.reg > 0 && std::isfinite(o.reg), "reg", "must be positive and finite");
  require(o.tol >= 0, "tol", "must be >= 0");
  require(o.max_iter >= 1, "max_iter", "must be >= 1");
  const int threads = pass_threads(o.num_threads > 0 ? o.num_threads : num_threads(), m, n);
  const double inv_reg = 1.0 / o.reg, ninf = -std::numeric_limits<double>::infinity();
  std::vector<double> xs(static_cast<std::size_t>(m * d)), ys(static_cast<std::size_t>(n * d));
  for (index_t k = 0; k < m * d; ++k) xs[std::size_t(k)] = double(x[k]);
  for (index_t k = 0; k < n * d; ++k) ys[std::size_t(k)] = double(y[k]);
  const std::vector<double> xt = transposed(x, m, d), yt = transposed(y, n, d);
  const auto M_ = static_cast<std::size_t>(m), N_ = static_cast<std::size_t>(n);
  std::vector<double> wa(M_), wb(N_), la(M_), lb(N_);
  double sa = 0, sb = 0;
  for (index_t i = 0; i < m; ++i) sa += double(a[i]);
  for (index_t j = 0; j < n; ++j) sb += double(b[j]);
  require(sa > 0 && sb > 0, "a", "weights need a positive sum");
  for (index_t i = 0; i < m; ++i) {
    wa[std::size_t(i)] = double(a[i]);
    la[std::size_t(i)] = detail::sinkhorn_step::log_weight(wa[std::size_t(i)]);
  }
  for (index_t j = 0; j < n; ++j) {
    wb[std::size_t(j)] = double(b[j]) * sa / sb;
    lb[std::size_t(j)] = detail::sinkhorn_step::log_weight(wb[std::size_t(j)]);
  }
  std::vector<std::vector<double>> buffers(static_cast<std::size_t>(threads),
                                           std::vector<double>(std::size_t(std::max(m, n))));
  const Side rows{xs.data(), yt.data(), m, n, d}, cols{ys.data(), xt.data(), n, m, d};
  // Scaled potentials F = f / reg, G = g / reg (-inf at zero weights inside the iteration).
  std::vector<double> F(M_, 0.0), G(N_), sm(std::max(M_, N_));
  for (index_t j = 0; j < n; ++j)
    G[std::size_t(j)] =
        detail::sinkhorn_step::initial_G(double(b[j]), init_g ? init_g[j] * inv_reg : 0.0);
  for (index_t i = 0; i < m; ++i)
    if (!(a[i] > 0)) F[std::size_t(i)] = ninf;
  PointsStatus st;
  double error = std::numeric_limits<double>::infinity();
  for (int it = 1; it <= o.max_iter; ++it) {
    if (detail::poll(interrupt)) break;
    soft_min(rows, G.data(), wa.data(), inv_reg, o.cost, threads, buffers, sm.data());
    // The row sums of the previous iterate (its columns exact): a_i exp(F_old - F_new).
    error = 0;
    for (index_t i = 0; i < m; ++i) {
      const std::size_t k = std::size_t(i);
      if (!(wa[k] > 0)) continue;
      const double Fn = la[k] + sm[k];
      if (it > 1) error = std::max(error, wa[k] * std::abs(std::expm1(F[k] - Fn)));
      F[k] = Fn;
    }
    soft_min(cols, F.data(), wb.data(), inv_reg, o.cost, threads, buffers, sm.data());
    for (index_t j = 0; j < n; ++j)
      if (wb[std::size_t(j)] > 0) G[std::size_t(j)] = lb[std::size_t(j)] + sm[std::size_t(j)];
    st.n_iter = it;
    if (it > 1 && error <= o.tol * sa) break;
  }
  detail::throw_if_stopped(interrupt);
  // Zero weights: the soft c-transforms (finite), as optkern::sinkhorn returns them.
  {
    std::vector<double> one_a(M_), one_b(N_);
    for (index_t i = 0; i < m; ++i) one_a[std::size_t(i)] = wa[std::size_t(i)] > 0 ? 0.0 : 1.0;
    for (index_t j = 0; j < n; ++j) one_b[std::size_t(j)] = wb[std::size_t(j)] > 0 ? 0.0 : 1.0;
    soft_min(rows, G.data(), one_a.data(), inv_reg, o.cost, threads, buffers, sm.data());
    for (index_t i = 0; i < m; ++i)
      if (one_a[std::size_t(i)] > 0) F[std::size_t(i)] = sm[std::size_t(i)];
    std::vector<double> Fm(F);
    for (index_t i = 0; i < m; ++i)
      if (one_a[std::size_t(i)] > 0) Fm[std::size_t(i)] = ninf;  // zero rows carry no mass
    soft_min(cols, Fm.data(), one_b.data(), inv_reg, o.cost, threads, buffers, sm.data());
    for (index_t j = 0; j < n; ++j)
      if (one_b[std::size_t(j)] > 0) G[std::size_t(j)] = sm[std::size_t(j)];
  }
  // Final pass: marginals and cost of the plan exp(F_i + G_j - c_ij / reg) on the positive
  // rows and columns.
  std::vector<double> Gm(G);
  for (index_t j = 0; j < n; ++j)
    if (!(wb[std::size_t(j)] > 0)) Gm[std::size_t(j)] = ninf;
  std::vector<std::vector<double>> colsum(static_cast<std::size_t>(threads),
                                          std::vector<double>(std::size_t(n), 0.0));
  std::vector<double> rowsum(M_, 0.0);
  double cost_total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : cost_total)
  {
    const int t = omp_get_thread_num();
    std::vector<double>& c = buffers[std::size_t(t)];
    std::vector<double> p(N_);
    double* cs = colsum[std::size_t(t)].data();
#pragma omp for schedule(static)
    for (index_t i = 0; i < m; ++i) {
      if (!(wa[std::size_t(i)] > 0)) continue;
      cost_row(xs.data() + i * d, yt.data(), n, d, o.cost, c.data());
      detail::exp_row(c.data(), F[std::size_t(i)], Gm.data(), inv_reg, p.data(), n);
      double r = 0, cc = 0;
      for (index_t j = 0; j < n; ++j) {
        r += p[std::size_t(j)];
        cc += p[std::size_t(j)] * c[std::size_t(j)];
        cs[j] += p[std::size_t(j)];
      }
      rowsum[std::size_t(i)] = r;
      cost_total += cc;
    }
  }
  double err = 0, mass = 0, fa = 0, gb = 0;
  for (index_t i = 0; i < m; ++i) {
    err = std::max(err, std::abs(rowsum[std::size_t(i)] - wa[std::size_t(i)]));
    mass += rowsum[std::size_t(i)];
    if (wa[std::size_t(i)] > 0) fa += rowsum[std::size_t(i)] * F[std::size_t(i)];
  }
  for (index_t j = 0; j < n; ++j) {
    double s = 0;
    for (int t = 0; t < threads; ++t) s += colsum[std::size_t(t)][std::size_t(j)];
    err = std::max(err, std::abs(s - wb[std::size_t(j)]));
    if (wb[std::size_t(j)] > 0) gb += s * G[std::size_t(j)];
  }
  // Gauge <a, f> = <b, g>: shift by t = (<b, G> - <a, F>) / (2 mass).
  double la_F = 0, lb_G = 0;
  for (index_t i = 0; i < m; ++i)
    if (wa[std::size_t(i)] > 0) la_F += wa[std::size_t(i)] * F[std::size_t(i)];
  for (index_t j = 0; j < n; ++j)
    if (wb[std::size_t(j)] > 0) lb_G += wb[std::size_t(j)] * G[std::size_t(j)];
  const double shift = detail::sinkhorn_step::gauge_shift(lb_G, la_F, sa);
  for (index_t i = 0; i < m; ++i) f[i] = o.reg * (F[std::size_t(i)] + shift);
  for (index_t j = 0; j < n; ++j) g[j] = o.reg * (G[std::size_t(j)] - shift);
  st.marginal_error = err;
  st.cost = cost_total;
  // <C, P> + reg <P, log P - 1> = reg (sum_i r_i F_i + sum_j s_j G_j) - reg mass.
  st.value = o.reg * (fa + gb - mass);
  st.converged = err <= detail::sinkhorn_step::converged_bound<T>(o.tol, sa, sa);
  *status = st;
}

template <class T>
void sinkhorn_points_apply(index_t m, index_t n, index_t d, const T* x, const T* y,
                           const double* f, const double* g, double reg, PointsCost cost,
                           const double* v, double* out, int num_threads_) {
  require(m >= 1 && n >= 1 && d >= 1, "x", "sizes must be >= 1");
  require(reg > 0, "reg", "must be positive");
  const int threads = pass_threads(num_threads_ > 0 ? num_threads_ : num_threads(), m, n);
  const double inv_reg = 1.0 / reg;
  const std::vector<double> yt = transposed(y, n, d);
  std::vector<double> G(static_cast<std::size_t>(n));
  for (index_t j = 0; j < n; ++j) G[std::size_t(j)] = g[j] * inv_reg;
#pragma omp parallel num_threads(threads)
  {
    std::vector<double> c(static_cast<std::size_t>(n)), p(static_cast<std::size_t>(n)),
        xi(static_cast<std::size_t>(d));
#pragma omp for schedule(static)
    for (index_t i = 0; i < m; ++i) {
      for (index_t k = 0; k < d; ++k) xi[std::size_t(k)] = double(x[i * d + k]);
      cost_row(xi.data(), yt.data(), n, d, cost, c.data());
      detail::exp_row(c.data(), f[i] * inv_reg, G.data(), inv_reg, p.data(), n);
      const double* rows[1] = {p.data()};
      detail::dot_rows<double, 1>(rows, v, n, out + i);
    }
  }
}

#define OPTKERN_POINTS(T)                                                                   \
  template void sinkhorn_points<T>(index_t, index_t, index_t, const T*, const T*, const T*,  \
                                   const T*, const double*, const PointsOptions&, double*,   \
                                   double*, PointsStatus*, Interrupt*);                      \
  template void sinkhorn_points_apply<T>(index_t, index_t, index_t, const T*, const T*,      \
                                         const double*, const double*, double, PointsCost,   \
                                         const double*, double*, int);
OPTKERN_POINTS(float)
OPTKERN_POINTS(double)
#undef OPTKERN_POINTS

}  // namespace optkern
