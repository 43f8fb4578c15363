"""The Sinkhorn backward on the plan's own device, in torch operations.

optkern has a CUDA forward for Sinkhorn but its backward (:func:`optkern.ot.sinkhorn_vjp`)
runs on the CPU. For CUDA tensors the adapter solves the same system here instead of copying
the plan to the host and back, with the algorithm of cpp/src/ot/sinkhorn_vjp.cpp, step for
step: the Schur complement of the KKT system on the side with fewer active (nonzero) rows or
columns, built as a graph Laplacian from its off-diagonal entries, in float64, factored by
Cholesky (Gould's lecture notes, eqs 141-146).

The null space, one treatment in both: the Laplacian has the null vector 1 on the active
nodes (the KKT system is singular along (1, -1)). The first active node of the eliminated
side's complement is grounded, x_0 = 0, and the rest is factored; a pivot not above
``4 max(k, 16) eps`` times its diagonal entry (k active nodes), a failed factorization or a
non-finite solution means the support of the plan is disconnected (singular). The multipliers
are then moved to the minimum-norm gauge ``sum lambda = sum mu``. Inactive nodes (all-zero rows
or columns) are left out: here they get an identity row in the padded matrix, which changes no
pivot of the others.

The only difference from the C++ solver is the batching: all problems of a batch are solved
by one batched factorization (those that eliminate rows, then those that eliminate columns).
"""

from __future__ import annotations

import torch

from optkern import _backend
from optkern.ot._result import singular_error

# Relative size below which a Cholesky pivot counts as zero, times max(k, 16): the C++
# backward's constant (cpp/include/optkern/ot/sinkhorn_step.hpp, kPivotRtol).
PIVOT_RTOL = float(_backend._core.ot.PIVOT_RTOL)


def _solve_by_rows(P: torch.Tensor, W: torch.Tensor, reg: float
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(grad_M, lambda, mu, singular) for float64 P, W of shape (B, m, n), eliminating the
    columns: the Schur complement is on the rows."""
    r, c = P.sum(-1), P.sum(-2)
    WP = W * P
    rho, kappa = WP.sum(-1), WP.sum(-2)
    rows, cols = r > 0, c > 0
    inv_c = torch.where(cols, 1.0 / torch.where(cols, c, 1.0), 0.0)

    # S = diag(r) - P diag(1/c) P^T = diag(Wt 1 - diag Wt) - offdiag(Wt), Wt = P diag(1/c) P^T.
    G = P * inv_c.sqrt().unsqueeze(-2)
    Wt = G @ G.mT
    off = Wt - torch.diag_embed(torch.diagonal(Wt, dim1=-2, dim2=-1))
    degree = off.sum(-1)
    # Ground the first active row (x_0 = 0): it and the inactive rows get identity rows.
    ground = torch.nn.functional.one_hot(rows.to(torch.int8).argmax(-1), P.shape[-2]).bool()
    keep = rows & ~ground
    keep_d = keep.double()
    S = (torch.diag_embed(torch.where(keep, degree, 1.0))
         - off * (keep_d.unsqueeze(-1) * keep_d.unsqueeze(-2)))
    rhs = (rho - (P @ (kappa * inv_c).unsqueeze(-1)).squeeze(-1)) * keep_d
    L, info = torch.linalg.cholesky_ex(S)
    pivots = torch.diagonal(L, dim1=-2, dim2=-1).square()
    count = rows.double().sum(-1, keepdim=True)
    threshold = PIVOT_RTOL * torch.clamp(count, min=16.0)
    x = torch.cholesky_solve(rhs.unsqueeze(-1), L).squeeze(-1)
    singular = ((info != 0) | (~(pivots > threshold * degree) & keep).any(-1)
                | ~torch.isfinite(x).all(-1))
    y = (kappa - (P.mT @ x.unsqueeze(-1)).squeeze(-1)) * inv_c

    # The minimum-norm gauge over the active nodes: sum lambda = sum mu.
    nan = torch.tensor(float("nan"), dtype=torch.float64, device=P.device)
    shift = (((y * cols).sum(-1, keepdim=True) - (x * rows).sum(-1, keepdim=True))
             / (count + cols.double().sum(-1, keepdim=True)))
    lam = torch.where(rows, x + shift, nan)
    mu = torch.where(cols, y - shift, nan)
    grad_M = torch.where(P > 0, P * (lam.unsqueeze(-1) + mu.unsqueeze(-2) - W) / reg, 0.0)
    return grad_M, lam, mu, singular


def _solve(P: torch.Tensor, W: torch.Tensor, reg: float, by_rows: bool
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    if by_rows:
        return _solve_by_rows(P, W, reg)
    grad_Mt, mu, lam, singular = _solve_by_rows(P.mT, W.mT, reg)
    return grad_Mt.mT, lam, mu, singular


def sinkhorn_vjp(P: torch.Tensor, grad_P: torch.Tensor, reg: float,
                 on_singular: str = "raise") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(grad_M, grad_a, grad_b) as :func:`optkern.ot.sinkhorn_vjp` returns them (without a
    and b), computed with torch on P's device. P is (..., m, n); grad_P broadcasts to it."""
    grad_P = grad_P.expand(P.shape)
    batch_shape, (m, n) = P.shape[:-2], P.shape[-2:]
    Pd = P.double().reshape(-1, m, n)
    Wd = grad_P.double().reshape(-1, m, n)
    # The side with fewer active nodes is the Schur complement's (rows on a tie), per problem.
    by_rows = (Pd.sum(-1) > 0).sum(-1) <= (Pd.sum(-2) > 0).sum(-1)
    on_rows = int(by_rows.sum())  # one synchronisation on a GPU
    if on_rows in (0, by_rows.numel()):  # one orientation for the whole batch
        grad_M, lam, mu, singular = _solve(Pd, Wd, reg, on_rows > 0 or by_rows.numel() == 0)
    else:
        grad_M = torch.empty_like(Pd)
        lam = Pd.new_empty(Pd.shape[:-1])
        mu = Pd.new_empty((Pd.shape[0], n))
        singular = torch.empty_like(by_rows)
        for side in (True, False):
            idx = torch.nonzero(by_rows == side).flatten()
            grad_M[idx], lam[idx], mu[idx], singular[idx] = _solve(Pd[idx], Wd[idx], reg, side)
    grad_M = grad_M.reshape(P.shape)
    lam, mu = lam.reshape(batch_shape + (m,)), mu.reshape(batch_shape + (n,))
    singular = singular.reshape(batch_shape)

    if singular.any():  # as the CPU path reads its status array
        bad = torch.nonzero(singular.reshape(-1)).flatten().tolist()
        if on_singular == "raise":
            raise singular_error(bad)
        nan = torch.tensor(float("nan"), dtype=torch.float64, device=P.device)
        flag = singular.unsqueeze(-1)
        lam, mu = torch.where(flag, nan, lam), torch.where(flag, nan, mu)
        grad_M = torch.where(flag.unsqueeze(-1), nan, grad_M)
    return grad_M.to(P.dtype), lam.to(P.dtype), mu.to(P.dtype)
