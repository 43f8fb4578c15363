"""optkern.torch.sinkhorn2 and sinkhorn_divergence: POT's loss and the debiased Sinkhorn
divergence, differentiable through optkern's plan backward (implicit) and value backward
(envelope)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from optkern import _docs
from optkern._keywords import DIVERGENCE, SINKHORN, DivergenceOptions, SinkhornOptions
from optkern.ot import _divergence
from optkern.ot._losses import check_cloud_shapes, divergence_settings, symmetric_potential
from optkern.torch._convert import as_tensor, cost_matrix, host
from optkern.torch._ot import sinkhorn, sinkhorn_cost
from optkern.torch._points import sinkhorn_points_value

if TYPE_CHECKING:  # typing.Unpack is Python 3.11+; annotations are not evaluated
    from typing_extensions import Unpack

__all__ = ["sinkhorn2", "sinkhorn_divergence"]


@_docs.fill
@SINKHORN.after("reg")
def sinkhorn2(M: Any, a: Any = None, b: Any = None, *, reg: float, on_singular: str = "raise",
              **options: Unpack[SinkhornOptions]) -> torch.Tensor:
    """POT's ``sinkhorn2`` loss ``<M, P>`` (:func:`optkern.ot.sinkhorn2`), differentiable in
    M, a and b.

    The plan P comes from :func:`optkern.torch.sinkhorn`, whose backward is the implicit
    one, so ``dL/dM = P + (the plan's backward applied to M)``: exact, with no unrolling
    (this loss is not an envelope; POT's ``grad="envelope"`` would return P alone).

    Parameters
    ----------
    {torch_sinkhorn_problem}
    {on_singular}

    Returns
    -------
    Tensor, shape (...)
        One value per problem, with M's dtype, on M's device.

    Raises
    ------
    ValueError
        As :func:`optkern.torch.sinkhorn`.

    Examples
    --------
    >>> import torch, optkern.torch
    >>> x = torch.tensor([[0.0], [1.0], [2.0]], dtype=torch.float64, requires_grad=True)
    >>> y = torch.tensor([[0.5], [1.5]], dtype=torch.float64)
    >>> loss = optkern.torch.sinkhorn2(torch.cdist(x, y) ** 2, reg=0.05)
    >>> loss.backward()
    >>> round(loss.item(), 6), x.grad.shape
    (0.25, torch.Size([3, 1]))
    """
    M = cost_matrix(M)
    P = sinkhorn(M, a, b, reg=reg, on_singular=on_singular, **options)
    return (M * P).sum(dim=(-2, -1))


def pairwise_cost(x: torch.Tensor, y: torch.Tensor, cost: str) -> torch.Tensor:
    """|x_i - y_j|^2 or |x_i - y_j|, differentiable; the Euclidean distance has the
    subgradient 0 where two points coincide (sqrt's derivative is infinite there)."""
    diff = x[..., :, None, :] - y[..., None, :, :]
    sq = (diff * diff).sum(-1)
    if cost == "sqeuclidean":
        return sq
    positive = sq > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, sq, torch.ones_like(sq))),
                       torch.zeros_like(sq))


@_docs.fill
@DIVERGENCE.after("reg")
def sinkhorn_divergence(x: Any, y: Any, a: Any = None, b: Any = None, *, reg: float,
                        **options: Unpack[DivergenceOptions]) -> torch.Tensor:
    """The debiased Sinkhorn divergence of :func:`optkern.ot.sinkhorn_divergence`,
    differentiable in x, y, a and b.

    ``loss="entropic"`` differentiates each OT value by the envelope theorem (``d/dC = P``,
    then through the cost to the points: ``dOT/dx_i = sum_j P_ij dC(x_i, y_j)/dx_i``);
    ``loss="linear"`` through the implicit backward of each plan. Single CPU problems with
    the entropic loss and clouds of more than 2^24 pairs per cost run as
    :func:`optkern.ot.sinkhorn_divergence` does, with no cost matrix
    (:func:`sinkhorn_points_value`, its gradient applied on the fly); the linear loss, batches
    and CUDA tensors always form the three cost matrices.

    Parameters
    ----------
    x, y : Tensor or array_like, shapes (..., m, d) and (..., n, d)
        The clouds, on one device (CPU or CUDA).
    {cloud_ab}
    {divergence_options}

    Returns
    -------
    Tensor, shape (...)
        S per problem, >= 0.

    Raises
    ------
    ValueError
        As :func:`optkern.ot.sinkhorn_divergence`.

    Examples
    --------
    >>> import torch, optkern.torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(20, 2, dtype=torch.float64, generator=g, requires_grad=True)
    >>> y = torch.randn(30, 2, dtype=torch.float64, generator=g) + 1
    >>> s = optkern.torch.sinkhorn_divergence(x, y, reg=0.1)
    >>> s.backward()
    >>> bool(s > 0), x.grad.shape
    (True, torch.Size([20, 2]))
    """
    reg, cost, loss, kwargs = divergence_settings(reg, options)
    x = as_tensor(x, "x")
    y = as_tensor(y, "y", like=x)
    check_cloud_shapes(tuple(x.shape), tuple(y.shape))
    dtype = torch.promote_types(x.dtype, y.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float64
    x, y = x.to(dtype), y.to(dtype)
    m, n = x.shape[-2], y.shape[-2]
    a_given = a
    a = torch.full((m,), 1.0 / m, dtype=dtype, device=x.device) if a is None else (
        as_tensor(a, "a", like=x).to(dtype))
    if b is None and a_given is None:  # as in optkern.ot (equal inputs give equal arrays)
        b = torch.full((n,), 1.0 / n, dtype=dtype, device=x.device)
    elif b is None:
        b = a.sum(-1, keepdim=True) / n * torch.ones(n, dtype=dtype, device=x.device)
    else:
        b = as_tensor(b, "b", like=x).to(dtype)
    if loss == "entropic" and x.device.type == "cpu" and x.ndim == y.ndim == 2 \
            and a.ndim == b.ndim == 1 and max(m, n) ** 2 > _divergence.ONLINE_PAIRS:
        # Large clouds, as optkern.ot: no cost matrix, the envelope gradient on the fly, and
        # the same warm starts (the symmetric fixed points, not differentiated).
        def value(p: torch.Tensor, q: torch.Tensor, wp: torch.Tensor, wq: torch.Tensor,
                  g0: Any) -> torch.Tensor:
            return sinkhorn_points_value(p, q, wp, wq, reg=reg, cost=cost, tol=kwargs["tol"],
                                         max_iter=kwargs["max_iter"], init=g0)

        g_xx, g_yy = (_divergence.symmetric_points_potential(host(p), host(w), (), reg, cost)
                      for p, w in ((x, a), (y, b)))
        s = (value(x, y, a, b, g_yy) - 0.5 * value(x, x, a, a, g_xx)
             - 0.5 * value(y, y, b, b, g_yy))
        return torch.clamp(s, min=0.0)
    ot = sinkhorn_cost if loss == "entropic" else sinkhorn2
    C_xy, C_xx, C_yy = (pairwise_cost(p, q, cost) for p, q in ((x, y), (x, x), (y, y)))

    def warm(C: torch.Tensor, w: torch.Tensor) -> tuple[None, torch.Tensor]:
        # as in optkern.ot.sinkhorn_divergence: the symmetric fixed point as a warm start
        g = symmetric_potential(C.detach().cpu().numpy(), w.detach().cpu().numpy(), reg)
        return None, torch.as_tensor(g, dtype=dtype, device=x.device)

    g_yy = warm(C_yy, b)
    ab = ot(C_xy, a, b, init=g_yy, **kwargs)
    aa = ot(C_xx, a, a, init=warm(C_xx, a), **kwargs)
    bb = ot(C_yy, b, b, init=g_yy, **kwargs)
    return torch.clamp(ab - 0.5 * aa - 0.5 * bb, min=0.0)
