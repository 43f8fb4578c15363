"""Plain NumPy references for unbalanced entropic OT (KL-relaxed marginals), as POT's
ot.unbalanced.sinkhorn_unbalanced (float64, one problem, clarity over speed).

Problem, with c = a b^T (reg_type "kl", POT's default) or c = 1 (reg_type "entropy"):

    min_P <M, P> + reg KL(P | c) + rho_a KL(P 1 | a) + rho_b KL(P^T 1 | b),

KL(x | y) = sum x log(x / y) - x + y. Stationarity gives P_ij = c_ij exp((f_i + g_j - M_ij)
/ reg) with f_i = -rho_a log(r_i / a_i), g_j = -rho_b log(s_j / b_j), r = P 1, s = P^T 1.

The backward (derived here; tests check it against finite differences). Differentiating
F_a(f, g) = f + rho_a log(r / a) = 0 and F_b = g + rho_b log(s / b) = 0 and scaling the rows by
r reg / rho_a and s reg / rho_b gives the symmetric positive definite matrix

    H = [[diag(r (1 + reg / rho_a)), P], [P^T, diag(s (1 + reg / rho_b))]]

(the balanced H of sinkhorn_vjp plus reg/rho times the marginals on the diagonal: no longer
singular). For a loss L(P) with W = dL/dP, solve H [lam; mu] = [(W*P) 1; (W*P)^T 1]; then

    dL/dM   = P * (lam_i + mu_j - W_ij) / reg
    dL/da_i = lam_i r_i (1 + reg / rho_a) / a_i     (kl: c depends on a)
            = lam_i r_i / a_i                       (entropy)

and likewise for b. rho = inf (a hard marginal on that side) is the limit reg / rho = 0.
"""

from __future__ import annotations

import numpy as np

from reference.sinkhorn import logsumexp


def unbalanced_reference(M, a, b, reg, rho_a, rho_b, reg_type="kl", tol=1e-15,
                         max_iter=1000000):
    """(P, log_u, log_v): the log-domain scaling iteration u = (a / K v)^(rho_a / (rho_a +
    reg)), v = (b / K^T u)^(...) with K = c exp(-M / reg), to a fixed point."""
    M, a, b = (np.asarray(v, np.float64) for v in (M, a, b))
    log_c = np.log(a)[:, None] + np.log(b)[None, :] if reg_type == "kl" else np.zeros(M.shape)
    log_K = log_c - M / reg
    fa = 1.0 if np.isinf(rho_a) else rho_a / (rho_a + reg)
    fb = 1.0 if np.isinf(rho_b) else rho_b / (rho_b + reg)
    F, G = np.zeros(len(a)), np.zeros(len(b))
    for _ in range(max_iter):
        F_new = fa * (np.log(a) - logsumexp(log_K + G[None, :], axis=1))
        G_new = fb * (np.log(b) - logsumexp(log_K + F_new[:, None], axis=0))
        step = max(np.abs(F_new - F).max(), np.abs(G_new - G).max())
        F, G = F_new, G_new
        if step <= tol:
            break
    return np.exp(F[:, None] + G[None, :] + log_K), F, G


def objective(P, M, a, b, reg, rho_a, rho_b, reg_type="kl"):
    def kl(x, y):
        return float(np.sum(x * np.log(x / y) - x + y))

    c = np.outer(a, b) if reg_type == "kl" else np.ones(M.shape)
    value = float(np.sum(M * P)) + reg * kl(P, c)
    if not np.isinf(rho_a):
        value += rho_a * kl(P.sum(1), a)
    if not np.isinf(rho_b):
        value += rho_b * kl(P.sum(0), b)
    return value


def unbalanced_vjp_dense(P, W, a, b, reg, rho_a, rho_b, reg_type="kl"):
    """(dL/dM, dL/da, dL/db) from the dense (m + n) system H above."""
    m, n = P.shape
    r, s = P.sum(1), P.sum(0)
    ka = 0.0 if np.isinf(rho_a) else reg / rho_a
    kb = 0.0 if np.isinf(rho_b) else reg / rho_b
    H = np.block([[np.diag(r * (1 + ka)), P], [P.T, np.diag(s * (1 + kb))]])
    WP = W * P
    sol = np.linalg.solve(H, np.concatenate([WP.sum(1), WP.sum(0)]))
    lam, mu = sol[:m], sol[m:]
    grad_M = P * (lam[:, None] + mu[None, :] - W) / reg
    if reg_type == "kl":
        return grad_M, lam * r * (1 + ka) / a, mu * s * (1 + kb) / b
    return grad_M, lam * r / a, mu * s / b
