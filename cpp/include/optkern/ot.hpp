// Entropic optimal transport on the CPU: batched Sinkhorn (kernel domain and log domain) and
// the exact gradient of the transport plan by implicit differentiation.
//
// The problem, for a cost M (m x n), marginals a (m) and b (n) of equal mass and reg > 0:
//   minimise <M, P> + reg <P, log P - 1>  subject to  P 1 = a,  P^T 1 = b.
// Its solution is P_ij = exp((f_i + g_j - M_ij) / reg) for dual potentials f, g.
#pragma once

#include <cstdint>

#include "optkern/common.hpp"
#include "optkern/interrupt.hpp"
#include "optkern/ot/method.hpp"
#include "optkern/ot/points.hpp"
#include "optkern/ot/unbalanced.hpp"

namespace optkern {

struct SinkhornOptions {
  double reg = 1.0;  // the entropic regularisation (epsilon); > 0
  // Stop when the max-norm violation of the marginals is at most tol * sum(a).
  double tol = 1e-9;
  int max_iter = 10000;  // full iterations (an update of f and then of g); >= 1
  int check_every = 10;  // iterations between convergence checks; >= 1
  SinkhornMethod method = SinkhornMethod::automatic;
  int num_threads = 0;  // 0: optkern::num_threads()
};

// What happened to one problem of the batch.
struct SinkhornStatus {
  int n_iter = 0;
  double marginal_error = 0;  // max(|P1 - a|_inf, |P^T 1 - b|_inf) of the returned plan
  double cost = 0;            // <M, P>
  double value = 0;           // <M, P> + reg <P, log P - 1>, the entropic OT value
  // marginal_error <= tol * sum(a) + u * max(a, b), u = the unit roundoff of T: a float plan
  // cannot meet a tighter tolerance than its own rounding.
  bool converged = false;
  SinkhornMethod method = SinkhornMethod::automatic;  // the method that produced the result
};

// A batch of problems. Item k reads M + k * M_stride (m x n, row-major), a + k * a_stride and
// b + k * b_stride; a stride of 0 shares one operand across the batch. Marginals must be
// >= 0, not all zero, with equal sums (Python rescales b to the mass of a; here a relative
// mismatch above 1e-6 is an error). Zero weights are allowed: their rows (columns) of the plan
// are zero and their potentials are the soft c-transforms
// f_i = -reg log sum_j exp((g_j - M_ij) / reg) (likewise g_j), which keep <f, a> finite.
// init_g, when not null, warm-starts item k from the potentials init_g + k * init_g_stride.
template <class T>
struct SinkhornProblem {
  index_t batch = 1, m = 0, n = 0;
  const T* M = nullptr;
  index_t M_stride = 0;
  const T* a = nullptr;
  index_t a_stride = 0;
  const T* b = nullptr;
  index_t b_stride = 0;
  const T* init_g = nullptr;
  index_t init_g_stride = 0;
};

// Results, contiguous over the batch: plan (batch x m x n), f (batch x m), g (batch x n),
// status (batch). The potentials are returned in the gauge <a, f> = <b, g>.
template <class T>
struct SinkhornOutput {
  T* plan = nullptr;
  T* f = nullptr;
  T* g = nullptr;
  SinkhornStatus* status = nullptr;
};

// Solves every problem of the batch. Threads go over the batch when it has at least as many
// problems as threads, and over the rows of each problem otherwise. The potentials, scalings
// and every sum are kept in double, also for float input (float halves the memory traffic).
// No result is ever NaN or Inf: a kernel-domain iteration whose scalings leave the
// floating-point range continues in the log domain (status.method then says log).
// Throws std::invalid_argument for bad sizes, reg, tol, max_iter or marginals. `interrupt`,
// when not null, is polled every iteration (interrupt.hpp: the call then throws).
template <class T>
void sinkhorn(const SinkhornProblem<T>& problem, const SinkhornOptions& options,
              const SinkhornOutput<T>& out, Interrupt* interrupt = nullptr);

// Outcome of the backward solve for one problem.
enum class SinkhornVjpStatus : int {
  ok = 0,
  // The grounded Schur complement was not numerically positive definite: the support of P
  // (its entries that are not zero) does not connect all its rows and columns, typically
  // because entries underflowed at a small reg. The gradients of that item are left NaN.
  singular = 1,
};

// Vector-Jacobian product of the Sinkhorn plan by implicit differentiation of the optimality
// conditions (Gould, Lecture Notes on Differentiable Optimisation, eqs 133 and 141-146).
// For a loss L(P) with W = dL/dP, the gradients are
//   dL/dM = P * (lambda_i + mu_j - W_ij) / reg,  dL/da = lambda,  dL/db = mu,
// where [diag(r) P; P^T diag(c)] [lambda; mu] = [(W*P)1; (W*P)^T 1] with r = P1, c = P^T 1.
// That system is singular along (1, -1); the Schur complement on the side with fewer nonzero
// rows or columns, assembled as a graph Laplacian in double, has its first node grounded and
// the rest (at most min(m, n) - 1 unknowns) factored by Cholesky (the torch adapter's CUDA
// backward solves it the same way): O(mn min(m,n) + min(m,n)^3) time, O(mn + min(m,n)^2)
// memory.
// (lambda, mu) is returned in its minimum-norm gauge (sum lambda = sum mu); only
// perturbations with sum(da) = sum(db) are meaningful, and those do not see the gauge.
// Rows (columns) of P that are all zero are left out of the solve: their grad_M is zero and
// their grad_a (grad_b) is NaN, the derivative with respect to a zero weight needing the
// potentials, which P alone does not give.
// Arrays are contiguous over the batch: P, grad_P, grad_M are batch x m x n; grad_a is
// batch x m, grad_b batch x n; status is batch entries. P must be >= 0 and finite.
// `interrupt`, when not null, is polled between problems (interrupt.hpp: the call then
// throws); one problem is a direct solve and runs to its end.
template <class T>
void sinkhorn_vjp(index_t batch, index_t m, index_t n, const T* P, const T* grad_P, double reg,
                  T* grad_M, T* grad_a, T* grad_b, SinkhornVjpStatus* status,
                  int num_threads = 0, Interrupt* interrupt = nullptr);

}  // namespace optkern
