// Entropic OT between point clouds without a cost matrix: the log-domain Sinkhorn iteration
// computes every cost entry c(x_i, y_j) on the fly (as GeomLoss's online backend does with
// KeOps), so memory is O((m + n) d) plus one row buffer per thread, never m x n.
//
//   c(x, y) = |x - y|^2 (PointsCost::sqeuclidean) or |x - y| (euclidean)
//   F_i = log a_i - LSE_j(G_j - c(x_i, y_j) / reg),  G_j = log b_j - LSE_i(F_i - c / reg)
//   P_ij = exp(F_i + G_j - c(x_i, y_j) / reg),  f = reg F,  g = reg G.
#pragma once

#include "optkern/common.hpp"
#include "optkern/interrupt.hpp"

namespace optkern {

enum class PointsCost : int { sqeuclidean = 0, euclidean = 1 };

struct PointsOptions {
  double reg = 1.0;
  PointsCost cost = PointsCost::sqeuclidean;
  double tol = 1e-9;      // stop when the max-norm marginal error is at most tol * sum(a)
  int max_iter = 10000;   // >= 1
  int num_threads = 0;    // 0: optkern::num_threads(); threads go over the rows
};

struct PointsStatus {
  int n_iter = 0;
  double marginal_error = 0;  // max(|P1 - a|_inf, |P^T 1 - b|_inf)
  double cost = 0;            // <C, P>
  double value = 0;           // <C, P> + reg <P, log P - 1>
  bool converged = false;
};

// One problem: x (m x d), y (n x d) row-major; a (m), b (n) weights >= 0 of equal mass (b is
// rescaled to the mass of a); init_g (n, may be null) warm-starts g. Writes f (m), g (n) in
// double, in the gauge <a, f> = <b, g>; zero weights get the soft c-transform.
template <class T>
void sinkhorn_points(index_t m, index_t n, index_t d, const T* x, const T* y, const T* a,
                     const T* b, const double* init_g, const PointsOptions& options, double* f,
                     double* g, PointsStatus* status, Interrupt* interrupt = nullptr);

// out_i = sum_j exp((f_i + g_j - c(x_i, y_j)) / reg) v_j, i.e. P v, on the fly (O(m n d)
// time, O(n) memory per thread). P^T u is the same call with the two sides swapped.
template <class T>
void sinkhorn_points_apply(index_t m, index_t n, index_t d, const T* x, const T* y,
                           const double* f, const double* g, double reg, PointsCost cost,
                           const double* v, double* out, int num_threads = 0);

}  // namespace optkern
