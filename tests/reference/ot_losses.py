"""Plain NumPy references for the OT losses of issue 16 (float64, clarity over speed).

- sinkhorn2_reference: POT's sinkhorn2 value <M, P> from the reference plan.
- divergence_reference: S = OT(a, b) - OT(a, a) / 2 - OT(b, b) / 2 with OT the entropic value
  (Feydy et al. 2019) or the transport cost (POT's empirical_sinkhorn_divergence).
"""

from __future__ import annotations

import numpy as np

from reference.sinkhorn import entropic_value, logsumexp, sinkhorn_reference


def symmetric_plan(M, a, reg, tol=1e-14, max_iter=100000):
    """The plan of OT(a, a) for a symmetric M (positive weights), by the symmetric fixed point
    f = T(f), T(f)_i = reg log a_i - reg LSE_j((f_j - M_ij) / reg), averaged
    (f <- (f + T(f)) / 2, Feydy et al. 2019): the alternating iteration oscillates on these
    problems and needs tens of thousands of steps at small reg."""
    f = np.zeros(len(a))
    for _ in range(max_iter):
        t = reg * (np.log(a) - logsumexp((f[None, :] - M) / reg, axis=1))
        step = np.max(np.abs(t - f))
        f = 0.5 * (f + t)
        if step <= tol * reg:
            break
    return np.exp((f[:, None] + f[None, :] - M) / reg)


def sinkhorn2_reference(M, a, b, reg):
    P = sinkhorn_reference(M, a, b, reg, tol=1e-13)[0]
    return float(np.sum(M * P))


def cost_matrix(x, y, cost):
    d2 = ((np.asarray(x, np.float64)[:, None, :] - np.asarray(y, np.float64)[None, :, :]) ** 2
          ).sum(-1)
    return d2 if cost == "sqeuclidean" else np.sqrt(d2)


def divergence_reference(x, y, a, b, reg, cost="sqeuclidean", loss="entropic"):
    def ot_value(p, q, wp, wq):
        M = cost_matrix(p, q, cost)
        P = (symmetric_plan(M, wp, reg) if p is q else
             sinkhorn_reference(M, wp, wq, reg, tol=1e-13)[0])
        return entropic_value(M, P, reg) if loss == "entropic" else float(np.sum(M * P))

    return ot_value(x, y, a, b) - 0.5 * ot_value(x, x, a, a) - 0.5 * ot_value(y, y, b, b)
