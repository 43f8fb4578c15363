"""optkern.torch.sinkhorn_unbalanced: the unbalanced plan with its implicit backward."""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd.function import once_differentiable

from optkern import _docs
from optkern import ot as _ot
from optkern.torch._convert import as_tensor, cost_matrix, host, sum_to

__all__ = ["sinkhorn_unbalanced"]


@_docs.fill
def sinkhorn_unbalanced(M: Any, a: Any = None, b: Any = None, *, reg: float, reg_m: Any,
                        reg_type: str = "kl", tol: float = 1e-9,
                        max_iter: int = 10000) -> torch.Tensor:
    """The plan of :func:`optkern.ot.sinkhorn_unbalanced`, differentiable in M, a and b.

    The backward is :func:`optkern.ot.sinkhorn_unbalanced_vjp` (implicit differentiation of
    the optimality conditions; a and b move freely, the masses need not match). CPU tensors
    only (the result comes back on M's device otherwise, through the host).

    Parameters
    ----------
    M : Tensor or array_like, shape (..., m, n)
        Cost matrices.
    a, b : Tensor or array_like, shapes (..., m) and (..., n), optional
        Weights (default uniform, of mass 1). Batch dimensions broadcast; gradients are
        summed back to each shape.
    {unbalanced_options}

    Returns
    -------
    Tensor, shape (..., m, n)
        The plan, with M's dtype.

    Raises
    ------
    ValueError
        As :func:`optkern.ot.sinkhorn_unbalanced`.

    Examples
    --------
    >>> import torch, optkern.torch
    >>> M = torch.rand(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0),
    ...                requires_grad=True)
    >>> P = optkern.torch.sinkhorn_unbalanced(M, reg=0.1, reg_m=1.0)
    >>> (P * M).sum().backward()
    >>> M.grad.shape
    torch.Size([4, 3])
    """
    M = cost_matrix(M)
    m, n = M.shape[-2:]
    a = torch.full((m,), 1.0 / max(m, 1), dtype=M.dtype, device=M.device) if a is None else (
        as_tensor(a, "a", like=M).to(M.dtype))
    b = torch.full((n,), 1.0 / max(n, 1), dtype=M.dtype, device=M.device) if b is None else (
        as_tensor(b, "b", like=M).to(M.dtype))
    options = dict(reg=reg, reg_m=reg_m, reg_type=reg_type, tol=tol, max_iter=max_iter)
    return _Unbalanced.apply(M, a, b, options)


class _Unbalanced(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, M: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                options: dict) -> torch.Tensor:
        res = _ot.sinkhorn_unbalanced(host(M), host(a), host(b), **options)
        plan = torch.as_tensor(res.plan).to(M.device)
        ctx.save_for_backward(plan, a, b)
        ctx.options = options
        ctx.shapes = [(x.shape, x.dtype) for x in (M, a, b)]
        return plan

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_plan: torch.Tensor) -> tuple:
        plan, a, b = ctx.saved_tensors
        o = ctx.options
        batch = plan.shape[:-2]
        ab = a.expand(batch + a.shape[-1:])
        bb = b.expand(batch + b.shape[-1:])
        grads = _ot.sinkhorn_unbalanced_vjp(host(plan), host(grad_plan), host(ab),
                                            host(bb), reg=o["reg"], reg_m=o["reg_m"],
                                            reg_type=o["reg_type"])
        out = [sum_to(torch.as_tensor(g).to(plan.device), shape, dtype) if need else None
               for g, (shape, dtype), need in zip(grads, ctx.shapes, ctx.needs_input_grad)]
        return (*out, None)
