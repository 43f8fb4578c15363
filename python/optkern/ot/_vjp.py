"""The exact gradient of Sinkhorn's plan: :func:`sinkhorn_vjp`, by implicit differentiation of
the optimality conditions with a block-Cholesky (Schur complement) solve in the C++ core."""

from __future__ import annotations

from typing import Any

import numpy as np

from optkern import _arrays, _backend, _dask
from optkern._validation import as_float_array, broadcast_batch, fail, overflow_scale
from optkern.ot import _checks
from optkern.ot import _dask as _ot_dask
from optkern.ot._result import singular_error


@_arrays.same_kind("P", "grad_P")
def sinkhorn_vjp(
    P: Any,
    grad_P: Any,
    reg: float,
    a: Any = None,
    b: Any = None,
    *,
    on_singular: str = "raise",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of a loss L(P) through the Sinkhorn plan, by implicit differentiation.

    Given the plan ``P = sinkhorn(M, a, b, reg=reg).plan`` and ``grad_P = dL/dP``, returns
    ``(dL/dM, dL/da, dL/db)``. The optimality (KKT) conditions are differentiated, not the
    iterations: no iterate is stored and the cost does not grow with the iteration count.

    Parameters
    ----------
    P : array_like, shape (..., m, n)
        A transport plan from :func:`sinkhorn` (entries >= 0, finite). Any plan of the form
        ``diag(u) K diag(v)`` is optimal for its own marginals ``P 1`` and ``P^T 1``, which is
        what the gradient is taken at; for a converged plan those are a and b.
    grad_P : array_like, shape (..., m, n)
        dL/dP; it broadcasts to P's shape.
    reg : float
        The reg the plan was computed with (>= 1e-300).
    a, b : array_like, shapes (..., m) and (..., n), optional
        The marginals passed to :func:`sinkhorn`, if any. They are checked like there, and
        grad_a, grad_b are summed over the batch dimensions along which a, b were broadcast
        (as automatic differentiation would); without them grad_a and grad_b have P's batch
        shape.
    on_singular : {"raise", "nan"}
        What to do when the system is singular for a problem (its plan's support is
        disconnected, typically because entries underflowed to zero at a small reg):
        raise :class:`SinkhornBackwardError` naming the problems, or return NaN gradients for
        them (and correct ones for the others).

    Returns
    -------
    grad_M : ndarray, shape (..., m, n)
        ``P * (lambda_i + mu_j - grad_P) / reg``: every row and column sums to zero.
    grad_a, grad_b : ndarray
        ``lambda`` and ``mu``, in the minimum-norm gauge ``sum grad_a = sum grad_b`` (only
        perturbations with ``sum(da) = sum(db)`` are meaningful; they do not see the gauge).
        Entries of rows (columns) of P that are entirely zero, such as zero weights, are NaN:
        the derivative with respect to a zero weight needs the potentials, which P does not
        carry; their rows (columns) of grad_M are zero.

    Raises
    ------
    ValueError
        For bad shapes, negative or non-finite P, ``reg < 1e-300`` or an unknown on_singular.
    SinkhornBackwardError
        When the system is singular for some problem and ``on_singular="raise"``.

    Notes
    -----
    With ``r = P 1`` and ``c = P^T 1``, the multipliers solve
    ``[[diag(r), P], [P^T, diag(c)]] [lambda; mu] = [(W*P) 1; (W*P)^T 1]``
    (Gould, Lecture Notes on Differentiable Optimisation, eqs 141-146). That system is
    singular along (1, -1); the side with more nonzero rows or columns is eliminated, the
    first unknown of the other is grounded (set to 0), and the rest of the Schur complement
    ``diag(r) - P diag(1/c) P^T`` (a graph Laplacian, assembled in float64 from its
    off-diagonal entries) is factored by Cholesky, a pivot not above ``4 max(k, 16) eps`` of
    its diagonal meaning singular (the torch adapter's backward on CUDA solves it the same
    way). This takes O(m n min(m, n) + min(m, n)^3) time and O(m n + min(m, n)^2) memory.
    Float32 input is solved in float64, since the system grows ill-conditioned as reg
    shrinks. No identity is ever substituted for a failed factorization.

    Examples
    --------
    >>> import numpy as np, optkern
    >>> rng = np.random.default_rng(1)
    >>> M = rng.random((5, 4))
    >>> P = optkern.ot.sinkhorn(M, reg=0.1).plan
    >>> target = np.full((5, 4), 0.05)
    >>> grad_P = P - target                       # L = |P - target|^2 / 2
    >>> grad_M, grad_a, grad_b = optkern.ot.sinkhorn_vjp(P, grad_P, 0.1)
    >>> bool(np.allclose(grad_M.sum(axis=0), 0) and np.allclose(grad_M.sum(axis=1), 0))
    True
    >>> def loss(M):
    ...     P = optkern.ot.sinkhorn(M, reg=0.1, tol=1e-13).plan
    ...     return 0.5 * np.sum((P - target) ** 2)
    >>> dM = np.zeros_like(M); dM[2, 1] = 1e-6
    >>> fd = (loss(M + dM) - loss(M - dM)) / 2e-6
    >>> bool(abs(fd - grad_M[2, 1]) < 1e-8)
    True
    """
    if _dask.is_dask(P, grad_P, reg, a, b):  # a lazy dask result (optkern/_dask.py)
        return _ot_dask.sinkhorn_vjp(sinkhorn_vjp, **locals())
    reg = _checks.check_reg(reg)
    if on_singular not in ("raise", "nan"):
        fail("on_singular", "'raise' or 'nan'", repr(on_singular))
    P = as_float_array(P, "P", min_ndim=2)
    dtype = P.dtype
    m, n = P.shape[-2:]
    if m == 0 or n == 0:
        fail("P", "at least one row and one column", f"shape {P.shape}")
    if P.size and P.min() < 0:
        fail("P", "a transport plan with entries >= 0", "a negative entry")
    # The multipliers do not change when P is scaled and grad_M scales with it: a plan near
    # the ends of the range (1e308 overflowed its row sums; 5e-324 lost every digit) is
    # solved as P / 2^k, each problem of the batch with its own k.
    top = (P.max(axis=(-2, -1), keepdims=True) if P.size
           else np.zeros(P.shape[:-2] + (1, 1))).astype(np.float64)
    extreme = (top > 0) & ((top < 2.0**-500) | (top > 2.0**500))
    p_scale = np.where(extreme, np.ldexp(1.0, np.frexp(top)[1] - 1), 1.0)
    if extreme.any():
        P = P / p_scale.astype(dtype)
    grad_P = as_float_array(grad_P, "grad_P", dtype, contiguous=False)  # finite in P's dtype
    try:
        grad_P = np.broadcast_to(grad_P, P.shape)
    except ValueError:
        fail("grad_P", f"an array that broadcasts to P's shape {P.shape}",
             f"shape {grad_P.shape}")
    grad_P = np.ascontiguousarray(grad_P, dtype=dtype)
    scale = overflow_scale(grad_P)  # the gradients are linear in grad_P
    if scale != 1:
        grad_P = grad_P / scale
    batch_shape = P.shape[:-2]
    if a is not None:
        a = _checks.weights(a, "a", m, dtype, "rows")
    if b is not None:
        b = _checks.weights(b, "b", n, dtype, "columns")
    if a is not None and b is not None:
        _checks.check_equal_mass(a, b)
    shapes = [(batch_shape, "P")]
    shapes += [(x.shape[:-1], name) for x, name in ((a, "a"), (b, "b")) if x is not None]
    if broadcast_batch(shapes) != batch_shape:
        fail("a, b", f"batch shapes that broadcast to P's batch shape {batch_shape}",
             ", ".join(f"{name} {shape}" for shape, name in shapes[1:]))

    B = int(np.prod(batch_shape, dtype=np.int64))
    flat_P = P.reshape(B, m, n)
    grad_M = np.empty((B, m, n), dtype)
    grad_a = np.empty((B, m), dtype)
    grad_b = np.empty((B, n), dtype)
    if B:
        status = _backend._core.ot.sinkhorn_vjp(flat_P, grad_P.reshape(B, m, n), reg, 0, grad_M,
                                                grad_a, grad_b)
        bad = np.flatnonzero(status).tolist()
        if bad and on_singular == "raise":
            raise singular_error(bad)
    grad_M = grad_M.reshape(P.shape)
    grad_a = sum_to(grad_a.reshape(batch_shape + (m,)), a)
    grad_b = sum_to(grad_b.reshape(batch_shape + (n,)), b)
    if scale != 1 or extreme.any():
        with np.errstate(over="ignore", under="ignore"):  # only where the true value is
            # out of range; one factor at a time, since their product can overflow where
            # grad_M is 0 (giving NaN), though each alone does not
            grad_M = grad_M * scale * p_scale
            grad_a, grad_b = grad_a * scale, grad_b * scale
    return grad_M, grad_a, grad_b


def sum_to(grad: np.ndarray, like: np.ndarray | None) -> np.ndarray:
    """Sum a batched gradient over the dimensions along which `like` was broadcast."""
    if like is None or grad.shape == like.shape:
        return grad
    extra = grad.ndim - like.ndim
    axes = tuple(range(extra)) + tuple(
        extra + d for d, size in enumerate(like.shape) if size == 1 and grad.shape[extra + d] != 1
    )
    return grad.sum(axis=axes).reshape(like.shape).astype(grad.dtype, copy=False)
