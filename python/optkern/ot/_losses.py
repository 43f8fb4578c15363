"""The OT losses users train with, named as POT, OTT and GeomLoss name them:
:func:`sinkhorn2` (POT's ``sinkhorn2``, the transport cost <M, P> of the entropic plan), and
the checks and pieces of :func:`optkern.ot.sinkhorn_divergence` (ot/_divergence.py) that the
torch and JAX adapters share.

Three entropic OT quantities are easy to confuse; at the optimal plan P of
``min <M, P> + reg <P, log P - 1>`` they are:

- the transport cost ``<M, P>``: POT's ``sinkhorn2``, OTT's ``transport_cost_at_geom``,
  :func:`sinkhorn2` here (``SinkhornResult.cost``). Not a minimum over P: its gradient needs
  the backward solve;
- the entropic value ``<M, P> + reg <P, log P - 1>``: :func:`optkern.ot.sinkhorn_cost`
  (``SinkhornResult.value``). Its gradient is the envelope (P, f, g);
- the KL-regularised value ``<M, P> + reg KL(P | a b^T)`` = ``<a, f> + <b, g>`` (for a
  converged plan): POT's ``ot.solve(...).value``, OTT's ``reg_ot_cost`` and GeomLoss's
  OT_eps. It exceeds the entropic value by ``reg (H(a) + H(b) + 1)`` for marginals of unit
  mass (``H(a) = -<a, log a>``), a term that cancels in the debiased divergence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from optkern import _arrays, _docs
from optkern._keywords import SINKHORN, DivergenceOptions, SinkhornOptions
from optkern._validation import as_float_array, check_number, fail
from optkern.ot._sinkhorn import sinkhorn
from optkern.ot._vjp import sinkhorn_vjp, sum_to

if TYPE_CHECKING:  # typing.Unpack is Python 3.11+; annotations are not evaluated
    from typing_extensions import Unpack

__all__ = ["sinkhorn2"]

COSTS = ("sqeuclidean", "euclidean")
LOSSES = ("entropic", "linear")


@_docs.fill
@_arrays.same_kind("M", "a", "b")
@SINKHORN.after("reg")
def sinkhorn2(M: Any, a: Any = None, b: Any = None, *, reg: float, return_grad: bool = False,
              **options: Unpack[SinkhornOptions]) -> Any:
    """POT's ``sinkhorn2`` loss: the transport cost ``<M, P>`` of the entropic OT plan P.

    P is the plan of :func:`optkern.ot.sinkhorn` (``min <M, P> + reg <P, log P - 1>`` under
    ``P 1 = a``, ``P^T 1 = b``), and the value is ``(M * P).sum()`` per problem, which is what
    ``ot.sinkhorn2(a, b, M, reg)`` returns. It is not a minimum over P, so (unlike
    :func:`optkern.ot.sinkhorn_cost`, the entropic value) its gradient is not the envelope P:
    it is ``P + dM`` where ``dM`` is the implicit backward of the plan
    (:func:`optkern.ot.sinkhorn_vjp`) applied to ``dL/dP = M``.

    Parameters
    ----------
    {sinkhorn_problem}
    return_grad : bool
        Also return ``(grad_M, grad_a, grad_b)``.

    Returns
    -------
    value : float or ndarray
        ``<M, P>``, one per problem (a float for a single problem).
    grads : tuple of ndarrays, only with ``return_grad=True``
        grad_M with M's shape; grad_a, grad_b the multipliers (lambda, mu) of
        :func:`optkern.ot.sinkhorn_vjp` in its minimum-norm gauge (``sum grad_a = sum
        grad_b``; only perturbations with ``sum(da) = sum(db)`` are meaningful), summed over
        the batch dimensions along which a, b (and M) were broadcast. The torch and JAX
        versions (:func:`optkern.torch.sinkhorn2`, :func:`optkern.jax.sinkhorn2`) give the
        derivatives for a and b moving separately instead.

    Raises
    ------
    ValueError
        For the arguments :func:`optkern.ot.sinkhorn` rejects (the message names the
        argument).
    SinkhornBackwardError
        With ``return_grad=True``, when the backward system is singular (a plan whose support
        underflowed into disconnected blocks).

    Examples
    --------
    >>> import numpy as np, optkern
    >>> rng = np.random.default_rng(0)
    >>> M = rng.random((4, 6))
    >>> value, (grad_M, grad_a, grad_b) = optkern.ot.sinkhorn2(M, reg=0.05, return_grad=True)
    >>> P = optkern.ot.sinkhorn(M, reg=0.05).plan
    >>> bool(np.isclose(value, (M * P).sum()))
    True
    >>> dM = np.zeros_like(M); dM[1, 2] = 1e-6
    >>> up = optkern.ot.sinkhorn2(M + dM, reg=0.05, tol=1e-13)
    >>> down = optkern.ot.sinkhorn2(M - dM, reg=0.05, tol=1e-13)
    >>> bool(abs((up - down) / 2e-6 - grad_M[1, 2]) < 1e-6)
    True
    """
    res = sinkhorn(M, a, b, reg=reg, **options)
    if not return_grad:
        return res.cost
    P = np.asarray(res.plan)
    Mx = as_float_array(M, "M", P.dtype, contiguous=False)
    m, n = P.shape[-2:]
    if a is None:
        a = np.full(m, 1.0 / m, P.dtype)
    a = as_float_array(a, "a", P.dtype, contiguous=False)
    if b is None:
        b = np.full(n, 1.0, P.dtype) * a.sum(-1, keepdims=True) / n
    b = as_float_array(b, "b", P.dtype, contiguous=False)
    # P is optimal for b rescaled to the mass of a (what sinkhorn solved).
    b = b * (a.sum(-1, keepdims=True) / b.sum(-1, keepdims=True))
    dM, lam, mu = sinkhorn_vjp(P, np.broadcast_to(Mx, P.shape), reg, a, b)
    grad_M = sum_to(P + dM, Mx)
    return res.cost, (grad_M, lam, mu)


def pairwise_cost(x: np.ndarray, y: np.ndarray, cost: str) -> np.ndarray:
    """C_ij = |x_i - y_j|^2 ("sqeuclidean") or |x_i - y_j| ("euclidean") for (..., m, d) and
    (..., n, d), from the differences (exact zeros on a shared point, no cancellation)."""
    diff = x[..., :, None, :] - y[..., None, :, :]
    sq = np.einsum("...k,...k->...", diff, diff)
    return sq if cost == "sqeuclidean" else np.sqrt(sq)


def symmetric_potential(C: Any, a: Any, reg: float, tol: float = 1e-12,
                        max_iter: int = 1000) -> np.ndarray:
    """The column potential g of the symmetric problem OT(a, a) with cost C (..., n, n),
    as a warm start for :func:`optkern.ot.sinkhorn` (which alone needs thousands of
    iterations on it at small reg: the plan is nearly the identity and the alternating
    updates oscillate).

    Feydy et al. 2019 (Sec. 3.1): the symmetric fixed point ``F = T(F)``, ``T(F)_i = log a_i -
    LSE_j(F_j - C_ij / reg)``, iterated as ``F <- (F + T(F)) / 2``, converges in a few dozen
    steps. Float64, zero weights excluded (their potential is irrelevant to the warm start
    and set to 0). Returns ``g = reg F``."""
    C = np.asarray(C, np.float64)
    a = np.asarray(a, np.float64)
    a = np.broadcast_to(a, C.shape[:-1])
    with np.errstate(divide="ignore"):
        log_a = np.log(a)
    F = np.where(a > 0, 0.0, -np.inf)
    X = -C / reg
    for _ in range(max_iter):
        Y = F[..., None, :] + X
        top = Y.max(-1, keepdims=True)
        lse = top[..., 0] + np.log(np.exp(Y - top).sum(-1))
        T = np.where(a > 0, log_a - lse, -np.inf)
        step = np.where(a > 0, np.abs(T - F), 0.0)
        F = np.where(a > 0, 0.5 * (F + T), -np.inf)
        if not step.size or step.max() <= tol:
            break
    return np.where(a > 0, reg * F, 0.0)


def check_cost_name(cost: Any) -> str:
    if not isinstance(cost, str) or cost not in COSTS:
        fail("cost", "'sqeuclidean' or 'euclidean'", repr(cost))
    return cost


def check_loss_name(loss: Any) -> str:
    if not isinstance(loss, str) or loss not in LOSSES:
        fail("loss", "'entropic' or 'linear'", repr(loss))
    return loss


def divergence_settings(reg: Any, options: DivergenceOptions) -> tuple[float, str, str,
                                                                        dict[str, Any]]:
    """sinkhorn_divergence's reg, cost and loss, checked, and the keywords of its three
    solves (reg, method, tol, max_iter)."""
    reg = check_number(reg, "reg", low=1e-300)
    solve = {"reg": reg, "method": options["method"], "tol": options["tol"],
             "max_iter": options["max_iter"]}
    return reg, check_cost_name(options["cost"]), check_loss_name(options["loss"]), solve


def check_cloud_shapes(x_shape: tuple[int, ...], y_shape: tuple[int, ...]) -> None:
    """Clouds (..., m, d) and (..., n, d) with points of one dimension: the adapters' check
    of tensors and traced arrays (whose values are checked by optkern.ot, on the host)."""
    for shape, name in ((x_shape, "x"), (y_shape, "y")):
        if len(shape) < 2 or shape[-2] == 0 or shape[-1] == 0:
            fail(name, "points of shape (..., count, dim) with count, dim >= 1",
                 f"shape {shape}")
    if x_shape[-1] != y_shape[-1]:
        fail("y", f"points of x's dimension {x_shape[-1]}", f"shape {y_shape}")


def check_points(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """x (..., m, d) and y (..., n, d) as finite float arrays of one dtype."""
    x = as_float_array(x, "x", min_ndim=2, contiguous=False)
    y = as_float_array(y, "y", min_ndim=2, contiguous=False)
    dtype = np.result_type(x.dtype, y.dtype)
    x, y = x.astype(dtype, copy=False), y.astype(dtype, copy=False)
    if x.shape[-1] != y.shape[-1]:
        fail("y", f"points of x's dimension {x.shape[-1]} (shape (..., n, {x.shape[-1]}))",
             f"shape {y.shape}")
    for arr, name in ((x, "x"), (y, "y")):
        if arr.shape[-2] == 0 or arr.shape[-1] == 0:
            fail(name, "at least one point of at least one coordinate", f"shape {arr.shape}")
    try:
        np.broadcast_shapes(x.shape[:-2], y.shape[:-2])
    except ValueError:
        fail("x, y", "batch shapes that broadcast", f"x {x.shape}, y {y.shape}")
    return x, y
