// Unbalanced entropic optimal transport (KL-relaxed marginals), as POT's sinkhorn_unbalanced.
//
//   minimise <M, P> + reg KL(P | c) + rho_a KL(P 1 | a) + rho_b KL(P^T 1 | b)
//
// with c = a b^T (UnbalancedRegType::kl, POT's default) or c = 1 (entropy), and
// KL(x | y) = sum x log(x / y) - x + y. Masses need not be equal. rho = +inf makes that side's
// marginal a hard constraint. The solution is P_ij = c_ij exp(F_i + G_j - M_ij / reg), and the
// log-domain scaling iteration (Chizat et al. 2018, POT's sinkhorn_knopp_unbalanced in logs)
//   F_i = rho_a / (rho_a + reg) (log a_i - log sum_j c_ij exp(G_j - M_ij / reg))
//   G_j = rho_b / (rho_b + reg) (log b_j - log sum_i c_ij exp(F_i - M_ij / reg))
// is run with stabilised log-sum-exps, so no entry overflows or turns NaN at a small reg.
// Where exp(-M / reg) fits the floating-point range, the same iteration runs in the kernel
// domain, u = (a / K v)^(rho_a / (rho_a + reg)) and v likewise with K = c exp(-M / reg) (POT's
// default): two matrix-vector products per iteration and no exp. A kernel-domain run whose
// scalings leave the range continues in the log domain from its last finite iterate.
#pragma once

#include "optkern/common.hpp"
#include "optkern/interrupt.hpp"
#include "optkern/ot/method.hpp"

namespace optkern {

enum class UnbalancedRegType : int { kl = 0, entropy = 1 };

struct UnbalancedOptions {
  double reg = 1.0;                      // > 0
  double rho_a = 1.0, rho_b = 1.0;       // > 0, may be +inf (a hard marginal)
  UnbalancedRegType reg_type = UnbalancedRegType::kl;
  double tol = 1e-9;                     // stop when max |dF|, |dG| (log-scalings) <= tol
  int max_iter = 10000;                  // >= 1
  int num_threads = 0;                   // 0: optkern::num_threads(); threads go over the batch
  // automatic: the kernel domain when max|M| / reg fits its range (as SinkhornMethod says for
  // the balanced solver), else the log domain.
  SinkhornMethod method = SinkhornMethod::automatic;
};

struct UnbalancedStatus {
  int n_iter = 0;
  double step = 0;  // the last max |dF|, |dG|
  bool converged = false;
  SinkhornMethod method = SinkhornMethod::automatic;  // the method that produced the result
};

// Item k reads M + k * M_stride (m x n row-major), a + k * a_stride, b + k * b_stride (weights
// >= 0, each side with a positive sum) and writes plan (batch x m x n), F (batch x m),
// G (batch x n) contiguously: the log-scalings (POT's log u, log v), 0 at zero weights (whose
// rows or columns of the plan are zero). Throws std::invalid_argument for bad parameters.
template <class T>
void sinkhorn_unbalanced(index_t batch, index_t m, index_t n, const T* M, index_t M_stride,
                         const T* a, index_t a_stride, const T* b, index_t b_stride,
                         const UnbalancedOptions& options, T* plan, double* F, double* G,
                         UnbalancedStatus* status, Interrupt* interrupt = nullptr);

}  // namespace optkern
