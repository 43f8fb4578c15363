"""optkern.torch.sinkhorn_points_value: the entropic OT value between point clouds with no
cost matrix, differentiable in x, y, a and b by the envelope theorem, its gradients applied
on the fly (O((m + n) d) memory)."""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd.function import once_differentiable

from optkern import ot as _ot
from optkern._autodiff import marginal_grads
from optkern._validation import fail
from optkern.torch._convert import as_tensor, host

__all__ = ["sinkhorn_points_value"]


def sinkhorn_points_value(x: Any, y: Any, a: Any = None, b: Any = None, *, reg: float,
                          cost: str = "sqeuclidean", tol: float = 1e-9, max_iter: int = 10000,
                          init: Any = None) -> torch.Tensor:
    """The entropic OT value of :func:`optkern.ot.sinkhorn_points`, differentiable in x, y, a
    and b, with no m x n array in the forward or the backward.

    At the optimum (envelope theorem) ``dOT/dx_i = sum_j P_ij dc(x_i, y_j)/dx_i``, and
    likewise for y with P^T: :meth:`optkern.ot.PointsResult.grad_xy` (for the squared cost
    ``2 (r_i x_i - (P y)_i)`` with ``r = P 1``). The gradients in a and b are the
    potentials, as for :func:`optkern.torch.sinkhorn_cost`.

    Parameters
    ----------
    x, y : Tensor or array_like, shapes (m, d) and (n, d)
        One problem (CPU tensors).
    a, b : Tensor or array_like, shapes (m,) and (n,), optional
        Weights of equal mass (default uniform, b with the mass of a).
    reg, cost, tol, max_iter, init
        As in :func:`optkern.ot.sinkhorn_points` (init: a warm start for g, not
        differentiated).

    Returns
    -------
    Tensor, 0-d
        ``<C, P> + reg <P, log P - 1>``, with x's dtype.

    Raises
    ------
    ValueError
        As :func:`optkern.ot.sinkhorn_points`, or for batched input.

    Examples
    --------
    >>> import torch, optkern.torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(30, 3, dtype=torch.float64, generator=g, requires_grad=True)
    >>> y = torch.randn(20, 3, dtype=torch.float64, generator=g)
    >>> value = optkern.torch.sinkhorn_points_value(x, y, reg=0.5)
    >>> value.backward()
    >>> x.grad.shape
    torch.Size([30, 3])
    """
    x = as_tensor(x, "x")
    y = as_tensor(y, "y", like=x)
    if x.ndim != 2 or y.ndim != 2:
        fail("x, y", "single clouds of shapes (m, d) and (n, d)",
             f"x {tuple(x.shape)}, y {tuple(y.shape)}")
    dtype = torch.promote_types(x.dtype, y.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float64
    x, y = x.to(dtype), y.to(dtype)
    m, n = x.shape[0], y.shape[0]
    a = torch.full((m,), 1.0 / max(m, 1), dtype=dtype) if a is None else (
        as_tensor(a, "a", like=x).to(dtype))
    if b is None:
        b = a.sum() / max(n, 1) * torch.ones(n, dtype=dtype)
    else:
        b = as_tensor(b, "b", like=x).to(dtype)
    options = dict(reg=reg, cost=cost, tol=tol, max_iter=max_iter, init=init)
    return _Value.apply(x, y, a, b, options)


class _Value(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, y: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                options: dict) -> torch.Tensor:
        init = options["init"]
        if isinstance(init, torch.Tensor):
            init = host(init)
        res = _ot.sinkhorn_points(host(x), host(y), host(a), host(b), reg=options["reg"],
                                  cost=options["cost"], tol=options["tol"],
                                  max_iter=options["max_iter"], init=init)
        ctx.result = res
        ctx.save_for_backward(x, y, a, b)
        return torch.tensor(res.value, dtype=x.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_value: torch.Tensor) -> tuple:
        x, y, a, b = ctx.saved_tensors
        res = ctx.result
        scale = float(grad_value)
        out: list = [None, None, None, None, None]
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
            gx, gy = res.grad_xy()
            out[0] = torch.as_tensor(scale * gx, dtype=x.dtype)
            out[1] = torch.as_tensor(scale * gy, dtype=y.dtype)
        if ctx.needs_input_grad[2] or ctx.needs_input_grad[3]:
            f = torch.as_tensor(res.f, dtype=a.dtype)
            g = torch.as_tensor(res.g, dtype=b.dtype)
            ga, gb = marginal_grads(torch, f, g, a, b)
            out[2] = scale * ga if ctx.needs_input_grad[2] else None
            out[3] = scale * gb if ctx.needs_input_grad[3] else None
        return tuple(out)
