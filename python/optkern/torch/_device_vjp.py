"""The Sinkhorn backward on the plan's own device, in torch operations.

optkern has a CUDA forward for Sinkhorn but its backward (:func:`optkern.ot.sinkhorn_vjp`)
runs on the CPU. For CUDA tensors the adapter solves the same system here instead of copying
the plan to the host and back: the Schur complement of the KKT system on the smaller side,
built as a graph Laplacian from its off-diagonal entries, in float64, factored by Cholesky
(Gould's lecture notes, eqs 141-146; cpp/src/ot/sinkhorn_vjp.cpp does the same on the CPU).

Two differences from the C++ solver, neither changing the result: the Laplacian's null vector
is removed by adding ``alpha * 1 1^T`` on the active nodes instead of grounding one node
(that gives the multipliers with zero sum, which the final gauge shift makes the same as the
C++ solver's), and all problems of a batch are solved by one batched factorization.
"""

from __future__ import annotations

import numpy as np
import torch

from optkern.ot._result import singular_error

# Relative size below which a Cholesky pivot counts as zero (as singular_threshold in
# cpp/src/ot/sinkhorn_vjp.cpp): rounding leaves about k * eps of the diagonal where the exact
# pivot is zero, i.e. where the support of the plan is disconnected.
PIVOT_RTOL = 4.0 * float(np.finfo(np.float64).eps)


def sinkhorn_vjp(P: torch.Tensor, grad_P: torch.Tensor, reg: float,
                 on_singular: str = "raise") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(grad_M, grad_a, grad_b) as :func:`optkern.ot.sinkhorn_vjp` returns them (without a
    and b), computed with torch on P's device. P is (..., m, n); grad_P broadcasts to it."""
    grad_P = grad_P.expand(P.shape)
    if P.shape[-2] > P.shape[-1]:  # eliminate the larger side: solve for the transpose
        grad_Mt, grad_b, grad_a = sinkhorn_vjp(P.mT, grad_P.mT, reg, on_singular)
        return grad_Mt.mT, grad_a, grad_b
    Pd, Wd = P.double(), grad_P.double()
    batch_shape = P.shape[:-2]
    r, c = Pd.sum(-1), Pd.sum(-2)
    WP = Wd * Pd
    rho, kappa = WP.sum(-1), WP.sum(-2)
    rows, cols = r > 0, c > 0
    inv_c = torch.where(cols, 1.0 / torch.where(cols, c, 1.0), 0.0)

    # S = diag(r) - P diag(1/c) P^T = diag(Wt 1 - diag Wt) - offdiag(Wt), Wt = P diag(1/c) P^T.
    G = Pd * inv_c.sqrt().unsqueeze(-2)
    Wt = G @ G.mT
    off = Wt - torch.diag_embed(torch.diagonal(Wt, dim1=-2, dim2=-1))
    degree = off.sum(-1)
    active = rows.double()
    count = active.sum(-1, keepdim=True)
    # The added eigenvalue alpha * k along 1: the mean row mass, the scale of S's spectrum.
    alpha = (r * active).sum(-1, keepdim=True) / count.square()
    S = (torch.diag_embed(degree + (1.0 - active))  # inactive rows: an identity block
         - off + alpha.unsqueeze(-1) * (active.unsqueeze(-1) * active.unsqueeze(-2)))
    rhs = (rho - (Pd @ (kappa * inv_c).unsqueeze(-1)).squeeze(-1)) * active
    L, info = torch.linalg.cholesky_ex(S)
    pivots = torch.diagonal(L, dim1=-2, dim2=-1).square()
    threshold = PIVOT_RTOL * torch.clamp(count, min=16.0)
    singular = (info != 0) | ((pivots <= threshold * torch.diagonal(S, dim1=-2, dim2=-1))
                              & rows).any(-1)
    x = torch.cholesky_solve(rhs.unsqueeze(-1), L).squeeze(-1)
    y = (kappa - (Pd.mT @ x.unsqueeze(-1)).squeeze(-1)) * inv_c

    # The minimum-norm gauge over the active nodes: sum lambda = sum mu.
    nan = torch.tensor(float("nan"), dtype=torch.float64, device=P.device)
    k, l_count = count, cols.double().sum(-1, keepdim=True)
    shift = ((y * cols).sum(-1, keepdim=True) - (x * rows).sum(-1, keepdim=True)) / (k + l_count)
    lam = torch.where(rows, x + shift, nan)
    mu = torch.where(cols, y - shift, nan)
    grad_M = torch.where(Pd > 0, Pd * (lam.unsqueeze(-1) + mu.unsqueeze(-2) - Wd) / reg, 0.0)

    if singular.any():  # one synchronisation, as the CPU path reads its status array
        bad = torch.nonzero(singular.reshape(-1)).flatten().tolist()
        if on_singular == "raise":
            raise singular_error(bad)
        flag = singular.reshape(batch_shape + (1,))
        lam, mu = torch.where(flag, nan, lam), torch.where(flag, nan, mu)
        grad_M = torch.where(flag.unsqueeze(-1), nan, grad_M)
    return grad_M.to(P.dtype), lam.to(P.dtype), mu.to(P.dtype)
