"""optkern.torch.sinkhorn and sinkhorn_cost: entropic OT with optkern's forward and its
implicit (block-Cholesky) backward, as torch.autograd.Functions."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from optkern import _docs
from optkern import ot as _ot
from optkern._autodiff import marginal_grads, warn_unconverged
from optkern._keywords import SINKHORN, SinkhornOptions
from optkern._validation import check_bool, fail
from optkern.torch import _device_vjp
from optkern.torch._convert import (
    as_tensor,
    cost_matrix,
    from_kernel,
    low_precision,
    sum_to,
    to_kernel,
)

if TYPE_CHECKING:  # typing.Unpack is Python 3.11+; annotations are not evaluated
    from typing_extensions import Unpack

__all__ = ["sinkhorn", "sinkhorn_cost"]


@_docs.fill
@SINKHORN.after("reg")
def sinkhorn(M: Any, a: Any = None, b: Any = None, *, reg: float, on_singular: str = "raise",
             return_result: bool = False, **options: Unpack[SinkhornOptions]) -> Any:
    """The entropic OT plan of :func:`optkern.ot.sinkhorn`, differentiable in M, a and b.

    The backward differentiates the optimality conditions (:func:`optkern.ot.sinkhorn_vjp`,
    a Cholesky solve of the Schur complement): its cost does not depend on the number of
    iterations and no iterate is stored.

    Parameters
    ----------
    {torch_M}
    {torch_ab}
        A zero weight gets the finite one-sided derivative (its weight raised from 0), from
        the limit of its multiplier: ``lambda_i = sum_j q_ij (dL/dP_ij - mu_j)`` with
        ``q_ij = softmax_j((g_j - M_ij) / reg)`` (likewise for columns).
    {sinkhorn_reg}
        Not differentiated.
    {sinkhorn_method}
    {sinkhorn_tol}
        The gradient is exact for the plan returned (for its own marginals), so a loose tol
        gives the exact gradient of a slightly different problem; a plan that did not
        converge gives a RuntimeWarning.
    {sinkhorn_max_iter}
    {sinkhorn_init}
    {on_singular}
    return_result : bool
        Also return the :class:`optkern.ot.SinkhornResult` of the forward (potentials,
        n_iter, marginal_error, converged, ...; NumPy arrays for CPU input, tensors for CUDA
        input; not differentiable). Its ``plan`` is a copy: writing into it changes neither
        the returned plan nor its gradient.

    Returns
    -------
    plan : Tensor, shape (..., m, n)
        The transport plan, on M's device, with M's dtype (float64 for integer M).
    result : SinkhornResult, only with ``return_result=True``

    Raises
    ------
    ValueError
        As :func:`optkern.ot.sinkhorn` (the message starts with the argument's name), or for
        tensors on a device other than the CPU or CUDA, or a, b on another device than M.
    SinkhornBackwardError
        From the backward, when the system is singular and ``on_singular="raise"``.

    Examples
    --------
    >>> import torch, optkern.torch
    >>> x = torch.linspace(0, 1, 4, dtype=torch.float64)
    >>> M = ((x[:, None] - x[None, :]) ** 2).requires_grad_()
    >>> P = optkern.torch.sinkhorn(M, reg=0.1)
    >>> P.sum(dim=1)
    tensor([0.2500, 0.2500, 0.2500, 0.2500], dtype=torch.float64, grad_fn=<SumBackward1>)
    >>> (P * torch.eye(4, dtype=torch.float64)).sum().backward()   # mass kept in place
    >>> M.grad.shape, bool(M.grad.sum(dim=0).abs().max() < 1e-12)  # columns sum to zero
    (torch.Size([4, 4]), True)
    """
    low = low_precision(M)
    M, a, b = _marginals(M, a, b)
    settings = _options(options, on_singular)
    return_result = check_bool(return_result, "return_result")
    results: list = []
    plan = _Plan.apply(M, a, b, reg, settings, results)
    if low:  # bfloat16 M: computed in float32, returned in bfloat16
        plan = plan.to(torch.bfloat16)
    return (plan, results[0]) if return_result else plan


@_docs.fill
@SINKHORN.after("reg")
def sinkhorn_cost(M: Any, a: Any = None, b: Any = None, *, reg: float,
                  **options: Unpack[SinkhornOptions]) -> torch.Tensor:
    """The entropic OT value ``<M, P> + reg <P, log P - 1>`` of :func:`optkern.ot.sinkhorn`,
    differentiable in M, a and b.

    The value is a minimum over P, so its gradient needs no backward solve (the envelope
    theorem): ``dOT/dM = P`` and the potentials (f, g) give ``dOT/da, dOT/db`` (with the
    rescaling of b described in :func:`sinkhorn`). Prefer it to :func:`sinkhorn` for losses
    that use only the value, such as a Sinkhorn loss between point clouds.

    Parameters
    ----------
    {torch_sinkhorn_problem}

    Returns
    -------
    Tensor, shape (...)
        One value per problem (0-d for one problem), with M's dtype, on M's device. Where a
        weight is zero the true derivative is -inf; the finite soft c-transform is used.

    Raises
    ------
    ValueError
        As :func:`sinkhorn`.

    Examples
    --------
    >>> import torch, optkern.torch
    >>> x = torch.tensor([[0.0], [1.0], [2.0]], dtype=torch.float64, requires_grad=True)
    >>> y = torch.tensor([[0.5], [1.5]], dtype=torch.float64)
    >>> M = torch.cdist(x, y) ** 2
    >>> loss = optkern.torch.sinkhorn_cost(M, reg=0.05)
    >>> loss.backward()
    >>> x.grad.shape, bool(torch.isfinite(x.grad).all())
    (torch.Size([3, 1]), True)
    """
    low = low_precision(M)
    M, a, b = _marginals(M, a, b)
    value = _Value.apply(M, a, b, reg, _options(options, "raise"), [])
    return value.to(torch.bfloat16) if low else value


def _own_copy(x: Any) -> Any:
    """A copy of a NumPy array, CuPy array or tensor that shares no memory with x."""
    return x.clone() if isinstance(x, torch.Tensor) else x.copy()


def _marginals(M: Any, a: Any, b: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """M, a and b as tensors on M's device, the default marginals made explicit (so that a
    gradient reaches a through the default b)."""
    M = cost_matrix(M, floating=False)
    m, n = M.shape[-2:]
    dtype = M.dtype if M.is_floating_point() else torch.float64
    a = torch.full((m,), 1.0 / max(m, 1), dtype=dtype, device=M.device) if a is None else (
        as_tensor(a, "a", like=M))
    if b is None:
        mass = a.sum(-1, keepdim=True) if a.ndim else a
        b = mass / max(n, 1) * torch.ones(n, dtype=mass.dtype, device=M.device)
    else:
        b = as_tensor(b, "b", like=M)
    return M, a, b


def _options(options: SinkhornOptions, on_singular: str) -> dict[str, Any]:
    """The forward's options (init's tensors as the kernel takes them) and the backward's."""
    if on_singular not in ("raise", "nan"):
        fail("on_singular", "'raise' or 'nan'", repr(on_singular))
    init = options["init"]
    if isinstance(init, (tuple, list)):
        init = tuple(None if p is None else to_kernel(as_tensor(p, "init"))
                     if isinstance(p, torch.Tensor) else p for p in init)
    return {**options, "init": init, "on_singular": on_singular}


def _solve(M: torch.Tensor, a: torch.Tensor, b: torch.Tensor, reg: float,
           options: dict[str, Any]) -> _ot.SinkhornResult:
    res = _ot.sinkhorn(to_kernel(M), to_kernel(a), to_kernel(b), reg=reg,
                       method=options["method"], tol=options["tol"],
                       max_iter=options["max_iter"], init=options["init"], device="auto")
    warn_unconverged(res, "torch", options["max_iter"], stacklevel=4)
    return res


def _plan_vjp(plan: torch.Tensor, grad_plan: torch.Tensor, reg: float,
              on_singular: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(grad_M, lambda, mu) at the plan: optkern's CPU kernel, or the same solve on the
    device for CUDA tensors."""
    if plan.is_cuda:
        return _device_vjp.sinkhorn_vjp(plan, grad_plan.to(plan.dtype), reg, on_singular)
    grads = _ot.sinkhorn_vjp(to_kernel(plan), to_kernel(grad_plan), reg,
                             on_singular=on_singular)
    return tuple(from_kernel(g, plan) for g in grads)


def _input_grads(ctx: Any, grad_M: torch.Tensor | None, grad_a: torch.Tensor,
                 grad_b: torch.Tensor) -> tuple:
    (M_shape, M_dtype), (a_shape, a_dtype), (b_shape, b_dtype) = ctx.shapes
    need_M, need_a, need_b = ctx.needs_input_grad[:3]
    return (sum_to(grad_M, M_shape, M_dtype) if need_M else None,
            sum_to(grad_a, a_shape, a_dtype) if need_a else None,
            sum_to(grad_b, b_shape, b_dtype) if need_b else None,
            None, None, None)


def _fill_inactive(lam: torch.Tensor, mu: torch.Tensor, grad_plan: torch.Tensor,
                   M: torch.Tensor, f: torch.Tensor, g: torch.Tensor,
                   reg: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The multipliers of zero-weight rows and columns (NaN from sinkhorn_vjp) as their
    one-sided limits, which make dL/da_i at a_i = 0 the derivative from the right.

    Row i of the backward system reads r_i lambda_i + sum_j P_ij mu_j = sum_j W_ij P_ij
    (W = dL/dP), so lambda_i = sum_j q_ij (W_ij - mu_j) with q_ij = P_ij / r_i. As a_i -> 0+
    the row's shape q_ij tends to softmax_j((g_j - M_ij) / reg) over the active columns,
    while the rest of the system is continuous in a_i; likewise for columns with f."""
    rows_out, cols_out = torch.isnan(lam), torch.isnan(mu)
    lam0 = torch.where(rows_out, torch.zeros_like(lam), lam)
    mu0 = torch.where(cols_out, torch.zeros_like(mu), mu)
    low = torch.tensor(-torch.inf, dtype=M.dtype, device=M.device)
    if bool(rows_out.any()):
        logits = torch.where(cols_out.unsqueeze(-2), low, (g.unsqueeze(-2) - M) / reg)
        q = torch.softmax(logits, dim=-1)
        fill = (q * (grad_plan - mu0.unsqueeze(-2))).sum(-1)
        lam = torch.where(rows_out, fill, lam)
    if bool(cols_out.any()):
        logits = torch.where(rows_out.unsqueeze(-1), low, (f.unsqueeze(-1) - M) / reg)
        q = torch.softmax(logits, dim=-2)
        fill = (q * (grad_plan - lam0.unsqueeze(-1))).sum(-2)
        mu = torch.where(cols_out, fill, mu)
    return lam, mu


class _Plan(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, M: torch.Tensor, a: torch.Tensor, b: torch.Tensor, reg: float,
                options: dict[str, Any], results: list) -> torch.Tensor:
        res = _solve(M, a, b, reg, options)
        plan = from_kernel(res.plan, M)
        # The result gets its own plan: writing into it must change neither P nor the saved
        # tensor the backward reads (torch cannot see writes through a NumPy array).
        results.append(dataclasses.replace(res, plan=_own_copy(res.plan)))
        # Zero weights: their multipliers need the potentials and M (_fill_inactive).
        sparse = bool((a == 0).any() or (b == 0).any())
        extra = (M.detach(), from_kernel(res.f, M), from_kernel(res.g, M)) if sparse else ()
        ctx.save_for_backward(plan, a, b, *extra)
        ctx.reg, ctx.on_singular = reg, options["on_singular"]
        ctx.shapes = [(x.shape, x.dtype) for x in (M, a, b)]
        return plan

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_plan: torch.Tensor) -> tuple:
        plan, a, b, *extra = ctx.saved_tensors
        grad_M, lam, mu = _plan_vjp(plan, grad_plan, ctx.reg, ctx.on_singular)
        if extra:
            lam, mu = _fill_inactive(lam, mu, grad_plan.to(plan.dtype), *extra, ctx.reg)
        grad_a, grad_b = marginal_grads(torch, lam, mu, a, b)
        return _input_grads(ctx, grad_M, grad_a, grad_b)


class _Value(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, M: torch.Tensor, a: torch.Tensor, b: torch.Tensor, reg: float,
                options: dict[str, Any], results: list) -> torch.Tensor:
        res = _solve(M, a, b, reg, options)
        plan, f, g = (from_kernel(x, M) for x in (res.plan, res.f, res.g))
        ctx.save_for_backward(plan, f, g, a, b)
        ctx.shapes = [(x.shape, x.dtype) for x in (M, a, b)]
        value = torch.as_tensor(np.asarray(res.value, dtype=np.float64))
        return value.to(device=M.device, dtype=plan.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_value: torch.Tensor) -> tuple:
        plan, f, g, a, b = ctx.saved_tensors
        scale = grad_value.to(plan.dtype).unsqueeze(-1)
        grad_a, grad_b = marginal_grads(torch, f, g, a, b)
        grad_M = scale.unsqueeze(-1) * plan if ctx.needs_input_grad[0] else None
        return _input_grads(ctx, grad_M, scale * grad_a, scale * grad_b)
