"""What optkern.ot's Sinkhorn functions return, and the backward's error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class _Solved:
    """The fields every entropic OT result has, whatever the solver (dense, unbalanced, point
    clouds): the potentials, the two values, the iterations and whether they converged. Each
    result class documents them with its own meaning and adds its own fields after them."""

    f: Any
    g: Any
    cost: Any
    value: Any
    n_iter: Any
    converged: Any


@dataclass(frozen=True)
class SinkhornResult(_Solved):
    """The result of :func:`sinkhorn`.

    Fields with one value per problem are scalars for a single problem and arrays of the
    batch shape for a batch.

    Attributes
    ----------
    plan : array, shape (..., m, n)
        The transport plan P (the same kind of array as the input: NumPy, CuPy, torch).
    f, g : array, shapes (..., m) and (..., n)
        Dual potentials with ``P = exp((f[:, None] + g[None, :] - M) / reg)``, in the gauge
        ``<a, f> = <b, g>``. Where a weight is zero, its row (column) of the plan is zero and its
        potential is the soft c-transform ``-reg log sum_j exp((g_j - M_ij) / reg)``.
    cost : float or ndarray
        The transport cost ``<M, P>``.
    value : float or ndarray
        The entropic OT value ``<M, P> + reg <P, log P - 1>`` (what :func:`sinkhorn_cost`
        returns).
    n_iter : int or ndarray
        Iterations done (one iteration updates f, then g).
    marginal_error : float or ndarray
        ``max(|P 1 - a|_inf, |P^T 1 - b|_inf)`` of the returned plan.
    converged : bool or ndarray
        ``marginal_error <= tol * sum(a) + u * max(a, b)``, u being the unit roundoff of the
        plan's dtype (6e-8 for float32: rounding a plan to float32 moves its row and column
        sums by up to that much of their weight, whatever the tolerance). Running out of
        iterations is reported here, never raised.
    method : str or ndarray
        The method that produced the result: "plain" or "log" (what "auto" chose, or "log"
        where a kernel-domain iteration left the floating-point range and was continued in the
        log domain).

    Examples
    --------
    >>> import numpy as np, optkern
    >>> M = np.random.default_rng(0).random((2, 3, 4))        # a batch of two problems
    >>> res = optkern.ot.sinkhorn(M, reg=0.1)
    >>> res.plan.shape, res.f.shape, res.g.shape, res.n_iter.shape
    ((2, 3, 4), (2, 3), (2, 4), (2,))
    >>> bool(res.converged.all()), bool(np.allclose(res.plan.sum(-1), 1 / 3))
    (True, True)
    >>> P = np.exp((res.f[..., :, None] + res.g[..., None, :] - M) / 0.1)
    >>> bool(np.allclose(P, res.plan)), bool(np.allclose(res.cost, (M * P).sum((-2, -1))))
    (True, True)
    """

    plan: Any
    marginal_error: Any
    method: Any


class SinkhornBackwardError(np.linalg.LinAlgError):
    """The KKT system of :func:`sinkhorn_vjp` is singular for some problem of the batch.

    A subclass of :class:`numpy.linalg.LinAlgError` (itself a ValueError). ``items`` lists
    the flat indices of the offending problems.

    Parameters
    ----------
    message : str
        What went wrong, naming the items.
    items : list of int
        The flat batch indices of the problems whose system is singular.

    Attributes
    ----------
    items : list of int
        As given.

    Examples
    --------
    A plan whose support splits into two blocks couples nothing between them, so its
    gradient is not determined:

    >>> import numpy as np, optkern
    >>> P = np.kron(np.eye(2), np.full((2, 2), 0.125))
    >>> try:
    ...     optkern.ot.sinkhorn_vjp(P, np.ones((4, 4)), reg=0.1)
    ... except optkern.ot.SinkhornBackwardError as err:
    ...     print(err.items, isinstance(err, ValueError))
    [0] True
    """

    def __init__(self, message: str, items: list[int]):
        super().__init__(message)
        self.items = items


def per_problem(x: Any, batch_shape: tuple[int, ...]) -> Any:
    """A per-problem field: an array of the batch shape, or a Python scalar for one problem."""
    x = np.asarray(x).reshape(batch_shape)
    return x.item() if x.ndim == 0 else x


def make_result(batch_shape: tuple[int, ...], m: int, n: int, plan: Any, f: Any, g: Any,
                stats: tuple) -> SinkhornResult:
    """A SinkhornResult from flat (B, ...) outputs and the kernel's per-item statistics."""
    n_iter, error, cost, value, converged, method = (np.asarray(s) for s in stats)
    names = np.array(["auto", "plain", "log"])[method]

    def per_item(x: np.ndarray) -> Any:
        return per_problem(x, batch_shape)

    return SinkhornResult(
        plan=plan.reshape(batch_shape + (m, n)),
        f=f.reshape(batch_shape + (m,)),
        g=g.reshape(batch_shape + (n,)),
        cost=per_item(cost),
        value=per_item(value),
        n_iter=per_item(n_iter),
        marginal_error=per_item(error),
        converged=per_item(converged),
        method=per_item(names),
    )


def singular_error(bad: list[int]) -> SinkhornBackwardError:
    """The error for a singular backward system at the flat batch indices `bad`."""
    return SinkhornBackwardError(
        f"sinkhorn_vjp: the Schur complement is not positive definite for batch "
        f"item(s) {bad[:10]}{' ...' if len(bad) > 10 else ''}: the support of P does "
        f"not connect all its rows and columns (entries underflowed to zero at a small "
        f"reg?). Use a larger reg or float64, or on_singular='nan'.", bad)
