"""Unbalanced entropic OT (KL-relaxed marginals), as POT's ``ot.unbalanced.sinkhorn_unbalanced``:
:func:`sinkhorn_unbalanced` (log-domain forward, batched, C++ on the CPU and on CUDA) and
:func:`sinkhorn_unbalanced_vjp` (the exact gradient of the plan by implicit differentiation;
the system is derived in tests/reference/unbalanced.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from optkern import _arrays, _backend, _dask, _docs, _gpu
from optkern._validation import (
    as_float_array,
    broadcast_batch,
    check_number,
    fail,
    is_gpu_array,
    resolve_device,
)
from optkern.ot import _checks, _cuda
from optkern.ot._result import _Solved, per_problem

__all__ = ["UnbalancedResult", "sinkhorn_unbalanced", "sinkhorn_unbalanced_vjp"]



@dataclass(frozen=True)
class UnbalancedResult(_Solved):
    """The result of :func:`sinkhorn_unbalanced`; per-problem fields are scalars for one
    problem and arrays of the batch shape for a batch.

    Attributes
    ----------
    plan : array, shape (..., m, n)
        ``P = c * exp((f[:, None] + g[None, :] - M) / reg)`` with ``c = a b^T`` (reg_type
        "kl") or 1 ("entropy"); rows and columns of zero weight are zero. The same kind of
        array as the input (NumPy, CuPy, torch), as are f and g.
    f, g : array, shapes (..., m) and (..., n)
        ``reg`` times POT's ``log u`` and ``log v`` (0 at zero weights), in M's dtype.
    cost : float or ndarray
        ``<M, P>``.
    value : float or ndarray
        The objective ``<M, P> + reg KL(P | c) + rho_a KL(P 1 | a) + rho_b KL(P^T 1 | b)``
        (POT's ``log["total_cost"]``).
    n_iter : int or ndarray
        Iterations done.
    converged : bool or ndarray
        Whether the last iteration changed no log-scaling by more than tol.
    method : str or ndarray
        The method that produced the result: "plain" or "log".

    Examples
    --------
    >>> import numpy as np, optkern
    >>> res = optkern.ot.sinkhorn_unbalanced(np.eye(3), [0.5, 0.3, 0.2], [1.0, 1.0, 1.0],
    ...                                      reg=0.1, reg_m=1.0)
    >>> res.plan.shape, bool(res.converged), res.method
    ((3, 3), True, 'plain')
    """

    plan: Any
    method: Any


def check_reg_m(reg_m: Any) -> tuple[float, float]:
    """reg_m as a pair (rho_a, rho_b) of numbers > 0 (inf allowed on one side)."""
    pair = tuple(reg_m) if isinstance(reg_m, (tuple, list)) else (reg_m, reg_m)
    if len(pair) != 2:
        fail("reg_m", "a number > 0 or a pair of them", repr(reg_m))
    out = []
    for rho in pair:
        if isinstance(rho, (int, float, np.integer, np.floating)) and not isinstance(
                rho, (bool, np.bool_)) and float(rho) == math.inf:
            out.append(math.inf)
        else:
            try:
                out.append(float(check_number(rho, "reg_m", low=0.0, low_open=True)))
            except ValueError:
                fail("reg_m", "numbers > 0 (inf for a hard marginal)", repr(reg_m))
    if math.isinf(out[0]) and math.isinf(out[1]):
        fail("reg_m", "at least one finite value (both infinite is balanced OT: use "
                      "optkern.ot.sinkhorn)", repr(reg_m))
    return out[0], out[1]


def check_reg_type(reg_type: Any) -> Any:
    """The kernels' UnbalancedRegType (cpp/include/optkern/ot/unbalanced.hpp) named reg_type."""
    types = _backend._core.ot.UnbalancedRegType.__members__
    if not isinstance(reg_type, str) or reg_type not in types:
        fail("reg_type", "'kl' or 'entropy'", repr(reg_type))
    return types[reg_type]


def _kl(x: np.ndarray, y: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """sum x log(x / y) - x + y over axes (0 log 0 = 0), in float64."""
    x = x.astype(np.float64)
    y = np.broadcast_to(y, x.shape).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(x > 0, x * (np.log(x) - np.log(y)), 0.0)
    return (t - x + y).sum(axis=axes)


@_docs.fill
@_arrays.same_kind("M", "a", "b")
def sinkhorn_unbalanced(
    M: Any,
    a: Any = None,
    b: Any = None,
    *,
    reg: float,
    reg_m: Any,
    reg_type: str = "kl",
    method: str = "auto",
    tol: float = 1e-9,
    max_iter: int = 10000,
    device: str = "cpu",
    stream: Any = None,
) -> UnbalancedResult:
    """Unbalanced entropic OT: the marginals are relaxed by KL penalties.

    Solves ``min_P <M, P> + reg KL(P | c) + rho_a KL(P 1 | a) + rho_b KL(P^T 1 | b)`` with
    ``KL(x | y) = sum x log(x / y) - x + y``, ``c = a b^T`` (``reg_type="kl"``, POT's default)
    or ``c = 1`` (``"entropy"``), and ``(rho_a, rho_b) = reg_m``: what POT's
    ``ot.unbalanced.sinkhorn_unbalanced(a, b, M, reg, reg_m, reg_type=...)`` solves. The
    masses of a and b need not be equal.

    Parameters
    ----------
    M : array_like, shape (..., m, n)
        Cost matrices (finite), on the CPU or a CUDA device. float32 stays float32 (the
        iteration runs in float64).
    a, b : array_like, shapes (..., m) and (..., n), optional
        Weights >= 0, each with a positive sum (default uniform, of mass 1), on M's device.
        Batch dimensions of M, a and b broadcast.
    {unbalanced_reg}
    {unbalanced_reg_m}
    {unbalanced_reg_type}
    method : {"auto", "plain", "log"}
        "plain": the kernel-domain iteration of POT (``u = (a / K v)^(rho_a / (rho_a +
        reg))``, two matrix-vector products per iteration, no exp). "log": the same iteration
        on log-scalings with stabilised log-sum-exps (no overflow, no NaN at any reg; one exp
        per entry per iteration). "auto": "plain" where ``max|M| / reg`` (plus the log-weights'
        range for reg_type "kl") is at most 300, "log" otherwise. A "plain" run whose
        scalings leave the floating-point range continues in the log domain from its last
        finite iterate, and says "log". On CUDA every method runs the log-domain iteration
        (the same iterates, so the same result and n_iter to rounding) and says "log".
    {unbalanced_tol}
    {unbalanced_max_iter}
    {device}
        On CUDA, one thread block solves each problem of the batch, the whole iteration in
        one launch; cost and value are computed there too, from the plan as rounded to
        M's dtype.
    {stream}

    Returns
    -------
    UnbalancedResult
        plan, f, g, cost, value, n_iter, converged, method.

    Raises
    ------
    ValueError
        For non-finite or badly shaped M, negative or all-zero weights, ``reg <= 0``,
        ``reg_m`` not > 0 (or both infinite), an unknown reg_type or method, ``tol < 0``,
        ``max_iter < 1``, or ``device="cuda"`` where CUDA is not available. The message starts
        with the argument's name.

    Notes
    -----
    Each iteration is ``F_i = rho_a / (rho_a + reg) (log a_i - LSE_j(log c_ij + G_j - M_ij /
    reg))`` and the same for G (Chizat et al. 2018, "Scaling algorithms for unbalanced optimal
    transport problems"), in float64, in one pass over M per iteration with one vectorised
    exp per entry: the row log-sum-exps' exponentials also give the column sums (against a
    running scale; a column whose sum underflows gets an exact log-sum-exp). Threads go over
    the batch.

    Examples
    --------
    >>> import numpy as np, optkern
    >>> rng = np.random.default_rng(0)
    >>> M = rng.random((4, 5))
    >>> a, b = np.full(4, 0.25), np.full(5, 0.4)          # masses 1 and 2
    >>> res = optkern.ot.sinkhorn_unbalanced(M, a, b, reg=0.1, reg_m=1.0)
    >>> bool(res.converged), 1.0 < float(res.plan.sum()) < 2.0
    (True, True)
    >>> strict = optkern.ot.sinkhorn_unbalanced(M, a, b, reg=0.1, reg_m=(np.inf, 1.0))
    >>> bool(np.allclose(strict.plan.sum(axis=1), a))   # rho_a = inf: rows exact
    True
    """
    if _dask.is_dask(M, a, b):  # a lazy dask result (optkern/_dask.py)
        return _dask.batched(sinkhorn_unbalanced, {"M": 2, "a": 1, "b": 1}, **locals())
    reg = float(_checks.check_reg(reg))
    rho_a, rho_b = check_reg_m(reg_m)
    type_code = check_reg_type(reg_type)
    method_code = _checks.check_method(method)
    tol = _checks.check_tol(tol)
    max_iter = _checks.check_max_iter(max_iter)
    where = resolve_device(device, [(M, "M"), (a, "a"), (b, "b")], stream)
    options = (reg, rho_a, rho_b, type_code, method_code, tol, max_iter)
    if where == "cuda" and any(is_gpu_array(x) for x in (M, a, b)):
        with _gpu.use_stream(stream):
            plan, f, g, stats, batch_shape = _cuda.unbalanced_on_gpu_arrays(M, a, b, options)
        return _device_result(plan, f, g, stats, batch_shape)
    M = as_float_array(M, "M", min_ndim=2, finite=False, contiguous=False)
    dtype = M.dtype
    m, n = M.shape[-2:]
    if m == 0 or n == 0:
        fail("M", "at least one row and one column", f"shape {M.shape}")
    _checks.check_cost(M, reg)
    a = np.full(m, 1.0 / m, dtype) if a is None else _checks.weights(a, "a", m, dtype, "rows")
    b = np.full(n, 1.0 / n, dtype) if b is None else _checks.weights(b, "b", n, dtype,
                                                                     "columns")
    batch_shape = broadcast_batch([(M.shape[:-2], "M"), (a.shape[:-1], "a"),
                                   (b.shape[:-1], "b")])
    if where == "cuda":
        with _gpu.use_stream(stream):
            plan, f, g, stats = _cuda.sinkhorn_unbalanced(M, a, b, batch_shape, options)
        return _device_result(plan, f, g, stats, batch_shape)
    B = math.prod(batch_shape)
    plan = np.empty((B, m, n), dtype)
    F = np.empty((B, m))
    G = np.empty((B, n))
    if B:
        n_iter, _, converged, ran = _backend._core.ot.sinkhorn_unbalanced(
            _checks.stack(M, 2, batch_shape), _checks.stack(a, 1, batch_shape),
            _checks.stack(b, 1, batch_shape), reg, rho_a, rho_b, type_code, method_code, tol,
            max_iter, 0, plan, F, G)
    else:
        n_iter, converged, ran = np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, int)
    plan = plan.reshape(batch_shape + (m, n))
    Mb = np.broadcast_to(M, plan.shape)
    ab = np.broadcast_to(a, batch_shape + (m,))
    bb = np.broadcast_to(b, batch_shape + (n,))
    cost = np.einsum("...ij,...ij->...", Mb.astype(np.float64), plan.astype(np.float64))
    c = (ab[..., :, None].astype(np.float64) * bb[..., None, :] if reg_type == "kl"
         else np.ones(1))
    value = cost + reg * _kl(plan, c, (-2, -1))
    if not math.isinf(rho_a):
        value = value + rho_a * _kl(plan.sum(-1, dtype=np.float64), ab, (-1,))
    if not math.isinf(rho_b):
        value = value + rho_b * _kl(plan.sum(-2, dtype=np.float64), bb, (-1,))

    def per_item(x: np.ndarray) -> Any:
        return per_problem(x, batch_shape)

    return UnbalancedResult(
        plan=plan, f=(reg * F).astype(dtype).reshape(batch_shape + (m,)),
        g=(reg * G).astype(dtype).reshape(batch_shape + (n,)), cost=per_item(cost),
        value=per_item(value), n_iter=per_item(n_iter), converged=per_item(converged),
        method=per_item(np.array(["auto", "plain", "log"])[ran]))


def _device_result(plan: Any, f: Any, g: Any, stats: tuple,
                   batch_shape: tuple[int, ...]) -> UnbalancedResult:
    """An UnbalancedResult from the CUDA kernel's flat (B, ...) outputs and statistics (cost
    and value computed on the device)."""
    n_iter, _, converged, ran, cost, value = (np.asarray(s) for s in stats)
    m, n = plan.shape[-2:]

    def per_item(x: np.ndarray) -> Any:
        return per_problem(x, batch_shape)

    return UnbalancedResult(
        plan=plan.reshape(batch_shape + (m, n)), f=f.reshape(batch_shape + (m,)),
        g=g.reshape(batch_shape + (n,)), cost=per_item(cost.astype(float)),
        value=per_item(value.astype(float)), n_iter=per_item(n_iter),
        converged=per_item(converged), method=per_item(np.array(["auto", "plain", "log"])[ran]))


@_docs.fill
@_arrays.same_kind("P", "grad_P")
def sinkhorn_unbalanced_vjp(
    P: Any,
    grad_P: Any,
    a: Any = None,
    b: Any = None,
    *,
    reg: float,
    reg_m: Any,
    reg_type: str = "kl",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of a loss L(P) through the plan of :func:`sinkhorn_unbalanced`, by implicit
    differentiation of its optimality conditions.

    Parameters
    ----------
    P : array_like, shape (..., m, n)
        The plan (entries >= 0, finite), with every row and column of positive weight
        carrying mass (as a converged plan does).
    grad_P : array_like
        dL/dP; broadcasts to P's shape.
    a, b : array_like, shapes (..., m) and (..., n), optional
        The weights given to :func:`sinkhorn_unbalanced` (default uniform of mass 1).
    {unbalanced_reg}
    {unbalanced_reg_m}
    {unbalanced_reg_type}

    Returns
    -------
    grad_M : ndarray, shape (..., m, n)
        ``P * (lam_i + mu_j - grad_P) / reg``.
    grad_a, grad_b : ndarray, with P's batch shape
        ``lam_i r_i (1 + reg / rho_a) / a_i`` for reg_type "kl" (the reference measure
        a b^T moves with a), ``lam_i r_i / a_i`` for "entropy"; likewise for b. Zero at
        zero weights (a one-sided derivative there).

    Raises
    ------
    ValueError
        For bad shapes, negative or non-finite P, or the parameters
        :func:`sinkhorn_unbalanced` rejects.

    Notes
    -----
    With ``r = P 1``, ``s = P^T 1`` and ``W = grad_P``, ``[lam; mu]`` solves
    ``[[diag(r (1 + reg/rho_a)), P], [P^T, diag(s (1 + reg/rho_b))]] [lam; mu] =
    [(W*P) 1; (W*P)^T 1]``: the balanced system of :func:`optkern.ot.sinkhorn_vjp` with
    ``reg/rho`` times the marginals added to its diagonal, which makes it positive definite
    (no gauge). The larger side is eliminated and the Schur complement on the smaller one is
    solved in float64: O(m n min(m, n) + min(m, n)^3).

    Examples
    --------
    >>> import numpy as np, optkern
    >>> rng = np.random.default_rng(0)
    >>> M, W = rng.random((4, 3)), rng.random((4, 3))
    >>> kw = dict(reg=0.2, reg_m=0.5)
    >>> P = optkern.ot.sinkhorn_unbalanced(M, **kw, tol=1e-14).plan
    >>> gM, ga, gb = optkern.ot.sinkhorn_unbalanced_vjp(P, W, **kw)
    >>> def loss(M):
    ...     return np.sum(W * optkern.ot.sinkhorn_unbalanced(M, **kw, tol=1e-14).plan)
    >>> dM = np.zeros_like(M); dM[1, 2] = 1e-6
    >>> bool(abs((loss(M + dM) - loss(M - dM)) / 2e-6 - gM[1, 2]) < 1e-8)
    True
    """
    reg = float(_checks.check_reg(reg))
    rho_a, rho_b = check_reg_m(reg_m)
    check_reg_type(reg_type)
    P = as_float_array(P, "P", min_ndim=2)
    dtype = P.dtype
    m, n = P.shape[-2:]
    if m == 0 or n == 0:
        fail("P", "at least one row and one column", f"shape {P.shape}")
    if P.min() < 0:
        fail("P", "a transport plan with entries >= 0", "a negative entry")
    W = as_float_array(grad_P, "grad_P", dtype, contiguous=False)
    try:
        W = np.broadcast_to(W, P.shape)
    except ValueError:
        fail("grad_P", f"an array that broadcasts to P's shape {P.shape}", f"shape {W.shape}")
    a = np.full(m, 1.0 / m) if a is None else _checks.weights(a, "a", m, np.float64, "rows")
    b = np.full(n, 1.0 / n) if b is None else _checks.weights(b, "b", n, np.float64,
                                                              "columns")
    batch = broadcast_batch([(P.shape[:-2], "P"), (a.shape[:-1], "a"), (b.shape[:-1], "b")])
    if batch != P.shape[:-2]:
        fail("a, b", f"batch shapes that broadcast to P's batch shape {P.shape[:-2]}",
             f"a {a.shape}, b {b.shape}")
    P64 = P.astype(np.float64)
    W64 = W.astype(np.float64)
    r, s = P64.sum(-1), P64.sum(-2)
    ka = 0.0 if math.isinf(rho_a) else reg / rho_a
    kb = 0.0 if math.isinf(rho_b) else reg / rho_b
    da, db = r * (1 + ka), s * (1 + kb)  # the diagonal blocks
    WP = W64 * P64
    rw, cw = WP.sum(-1), WP.sum(-2)
    # Rows (columns) without mass decouple: their multiplier is 0 (a unit diagonal).
    live_a, live_b = da > 0, db > 0
    da, db = np.where(live_a, da, 1.0), np.where(live_b, db, 1.0)
    if m <= n:  # eliminate mu: (D_a - P D_b^-1 P^T) lam = rw - P (cw / d_b)
        Pd = P64 / db[..., None, :]
        S = -Pd @ np.swapaxes(P64, -1, -2)
        S[..., np.arange(m), np.arange(m)] += da
        lam = _spd_solve(S, rw - (Pd @ cw[..., :, None])[..., 0], "P")
        mu = (cw - (np.swapaxes(P64, -1, -2) @ lam[..., :, None])[..., 0]) / db
    else:
        Pd = P64 / da[..., :, None]
        S = -np.swapaxes(Pd, -1, -2) @ P64
        S[..., np.arange(n), np.arange(n)] += db
        mu = _spd_solve(S, cw - (np.swapaxes(Pd, -1, -2) @ rw[..., :, None])[..., 0], "P")
        lam = (rw - (P64 @ mu[..., :, None])[..., 0]) / da
    grad_M = P64 * (lam[..., :, None] + mu[..., None, :] - W64) / reg
    ab = np.broadcast_to(a, batch + (m,))
    bb = np.broadcast_to(b, batch + (n,))
    scale_a = (1 + ka) if reg_type == "kl" else 1.0
    scale_b = (1 + kb) if reg_type == "kl" else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        grad_a = np.where((ab > 0) & live_a, lam * r * scale_a / ab, 0.0)
        grad_b = np.where((bb > 0) & live_b, mu * s * scale_b / bb, 0.0)
    return grad_M.astype(dtype), grad_a.astype(dtype), grad_b.astype(dtype)


def _spd_solve(S: np.ndarray, rhs: np.ndarray, name: str) -> np.ndarray:
    try:
        L = np.linalg.cholesky(S)
    except np.linalg.LinAlgError:
        fail(name, "a plan whose marginal system is positive definite (finite, with mass "
                   "on its rows and columns)", "a singular system")
    y = np.linalg.solve(L, rhs[..., :, None])
    return np.linalg.solve(np.swapaxes(L, -1, -2), y)[..., 0]
