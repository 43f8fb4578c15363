"""Entropic OT between point clouds without a cost matrix: :func:`sinkhorn_points` (the
log-domain iteration with every cost entry computed on the fly, O((m + n) d) memory) and its
result, whose plan is applied as an operator (``apply``, ``apply_T``) and formed only on
request (``plan()``). The solve runs on the CPU or on CUDA (optkern.ot._cuda)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optkern import _arrays, _backend, _docs, _gpu
from optkern._validation import as_float_array, broadcast_batch, fail, is_gpu_array, resolve_device
from optkern.ot import _checks, _cuda
from optkern.ot._losses import check_cost_name, check_points, pairwise_cost
from optkern.ot._result import _Solved, per_problem

__all__ = ["PointsResult", "sinkhorn_points"]


def points_cost(name: str) -> Any:
    """The kernels' PointsCost (cpp/include/optkern/ot/points.hpp) named `name`."""
    return _backend._core.ot.PointsCost.__members__[name]


@dataclass(frozen=True)
class PointsResult(_Solved):
    """The result of :func:`sinkhorn_points`. Per-problem fields are scalars for one problem
    and arrays of the batch shape for a batch.

    Attributes
    ----------
    f, g : array, shapes (..., m) and (..., n)
        Dual potentials (float64), ``P_ij = exp((f_i + g_j - c(x_i, y_j)) / reg)``, in the
        gauge ``<a, f> = <b, g>``; zero weights get the soft c-transform. The same kind of
        array as the input (NumPy; CuPy or torch on their GPU for GPU input).
    cost : float or ndarray
        ``<C, P>`` (POT's ``empirical_sinkhorn2``).
    value : float or ndarray
        The entropic value ``<C, P> + reg <P, log P - 1>`` (as :func:`optkern.ot.sinkhorn`).
    n_iter : int or ndarray
        Iterations done.
    marginal_error : float or ndarray
        ``max(|P 1 - a|_inf, |P^T 1 - b|_inf)``.
    converged : bool or ndarray
        ``marginal_error <= tol * sum(a)`` (plus the rounding of the input's dtype).
    x, y : ndarray
        The clouds (as checked, NumPy copies for GPU input), which apply, apply_T and plan
        read.
    reg : float
        The regularisation.
    cost_name : str
        "sqeuclidean" or "euclidean".
    a, b : ndarray
        The weights (as checked; zero weights give zero rows and columns of the plan).

    Notes
    -----
    ``apply``, ``apply_T``, ``plan()`` and ``grad_xy()`` always compute on the host, with the
    CPU kernels, from f, g, x and y (read back from the GPU for a CUDA result, O((m + n) d)),
    and return NumPy arrays.

    Examples
    --------
    >>> import numpy as np, optkern
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(50, 3)), rng.normal(size=(40, 3))
    >>> res = optkern.ot.sinkhorn_points(x, y, reg=0.5)
    >>> bool(res.converged), res.f.shape, res.g.shape
    (True, (50,), (40,))
    >>> bool(np.allclose(res.apply(np.ones(40)), 1 / 50))   # P 1 = a
    True
    >>> bool(np.allclose(res.apply_T(np.ones(50)), 1 / 40))  # P^T 1 = b
    True
    >>> res.plan().shape
    (50, 40)
    """

    marginal_error: Any
    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    reg: float = field(repr=False)
    cost_name: str = field(repr=False)
    a: np.ndarray = field(repr=False)
    b: np.ndarray = field(repr=False)

    def _masked(self) -> tuple[np.ndarray, np.ndarray]:
        """f and g with -inf at zero weights: the rows and columns the plan does not have."""
        f, g = _arrays.to_numpy(self.f), _arrays.to_numpy(self.g)  # a CUDA result's: copied
        f = np.where(np.broadcast_to(self.a, np.shape(f)) > 0, f, -np.inf)
        g = np.where(np.broadcast_to(self.b, np.shape(g)) > 0, g, -np.inf)
        return f, g

    def _items(self) -> tuple[tuple[int, ...], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        batch = np.shape(self.f)[:-1]
        B = math.prod(batch)
        m, n, d = self.x.shape[-2], self.y.shape[-2], self.x.shape[-1]
        x = np.ascontiguousarray(np.broadcast_to(self.x, batch + (m, d)).reshape(B, m, d))
        y = np.ascontiguousarray(np.broadcast_to(self.y, batch + (n, d)).reshape(B, n, d))
        fm, gm = self._masked()
        f = np.ascontiguousarray(np.reshape(fm, (B, m)), np.float64)
        g = np.ascontiguousarray(np.reshape(gm, (B, n)), np.float64)
        return batch, x, y, f, g

    def _apply(self, v: Any, transpose: bool) -> np.ndarray:
        batch, x, y, f, g = self._items()
        if transpose:
            x, y, f, g = y, x, g, f
        m, n = x.shape[1], y.shape[1]
        v = as_float_array(v, "u" if transpose else "v", np.float64, contiguous=False)
        if v.ndim < 1 or v.shape[-1] != n:
            fail("u" if transpose else "v", f"shape (..., {n})", f"shape {v.shape}")
        try:
            v = np.broadcast_to(v, batch + (n,))
        except ValueError:
            fail("u" if transpose else "v", f"a batch shape that broadcasts to {batch}",
                 f"shape {v.shape}")
        vb = np.ascontiguousarray(v.reshape(-1, n))
        out = np.empty((vb.shape[0], m))
        for k in range(vb.shape[0]):
            _backend._core.ot.sinkhorn_points_apply(x[k], y[k], f[k], g[k], self.reg,
                                                    points_cost(self.cost_name), vb[k], out[k], 0)
        return out.reshape(batch + (m,))

    def apply(self, v: Any) -> np.ndarray:
        """``P v``, computed on the fly (O(m n d) time, no m x n memory).

        Parameters
        ----------
        v : array_like, shape (..., n)
            One vector per problem (broadcast over the batch).

        Returns
        -------
        ndarray, shape (..., m)
            float64.

        Raises
        ------
        ValueError
            For a v of the wrong shape or with non-finite values.

        Examples
        --------
        >>> import numpy as np, optkern
        >>> x = np.linspace(0, 1, 5)[:, None]
        >>> res = optkern.ot.sinkhorn_points(x, x, reg=0.1)
        >>> bool(np.allclose(res.apply(np.arange(5.0)), res.plan() @ np.arange(5.0)))
        True
        """
        return self._apply(v, transpose=False)

    def apply_T(self, u: Any) -> np.ndarray:
        """``P^T u``, computed on the fly.

        Parameters
        ----------
        u : array_like, shape (..., m)
            One vector per problem.

        Returns
        -------
        ndarray, shape (..., n)
            float64.

        Raises
        ------
        ValueError
            For a u of the wrong shape or with non-finite values.

        Examples
        --------
        >>> import numpy as np, optkern
        >>> x = np.linspace(0, 1, 5)[:, None]
        >>> res = optkern.ot.sinkhorn_points(x, x + 0.5, reg=0.1)
        >>> bool(np.allclose(res.apply_T(np.ones(5)), res.plan().sum(axis=0)))
        True
        """
        return self._apply(u, transpose=True)

    def grad_xy(self) -> tuple[np.ndarray, np.ndarray]:
        """The gradients of ``value`` in the points x and y, by the envelope theorem.

        At the optimum ``d value / d x_i = sum_j P_ij dc(x_i, y_j)/dx_i`` (and likewise for
        y with P^T), computed without an m x n array: for the squared cost
        ``2 (r_i x_i - (P y)_i)`` with ``r = P 1`` by ``apply`` (d + 1 passes over the pairs),
        for the Euclidean one ``sum_j P_ij (x_i - y_j) / |x_i - y_j|`` (0 where the points
        coincide, a subgradient) over blocks of rows of at most 2^22 pairs.

        Returns
        -------
        grad_x, grad_y : ndarray, shapes (..., m, d) and (..., n, d)
            float64.

        Examples
        --------
        >>> import numpy as np, optkern
        >>> rng = np.random.default_rng(0)
        >>> x, y = rng.normal(size=(6, 2)), rng.normal(size=(5, 2))
        >>> gx, gy = optkern.ot.sinkhorn_points(x, y, reg=0.5, cost="euclidean").grad_xy()
        >>> gx.shape, gy.shape
        ((6, 2), (5, 2))
        """
        batch, x, y, f, g = self._items()
        x, y = x.astype(np.float64), y.astype(np.float64)
        m, n, d = x.shape[1], y.shape[1], x.shape[2]
        if self.cost_name == "sqeuclidean":
            xb, yb = x.reshape(batch + (m, d)), y.reshape(batch + (n, d))
            r = self._apply(np.ones(n), transpose=False)[..., None]  # P 1
            s = self._apply(np.ones(m), transpose=True)[..., None]  # P^T 1
            Py = np.stack([self._apply(yb[..., c], transpose=False) for c in range(d)], -1)
            PTx = np.stack([self._apply(xb[..., c], transpose=True) for c in range(d)], -1)
            return 2 * (r * xb - Py), 2 * (s * yb - PTx)
        gx, gy = np.empty_like(x), np.empty_like(y)
        for k in range(x.shape[0]):
            gx[k], gy[k] = _grad_euclidean(x[k], y[k], f[k], g[k], self.reg)
        return gx.reshape(batch + (m, d)), gy.reshape(batch + (n, d))

    def plan(self) -> np.ndarray:
        """The dense plan (m x n per problem: only when it fits in memory).

        Returns
        -------
        ndarray, shape (..., m, n)
            float64, ``exp((f_i + g_j - c(x_i, y_j)) / reg)``.

        Examples
        --------
        >>> import numpy as np, optkern
        >>> x = np.linspace(0, 1, 4)[:, None]
        >>> P = optkern.ot.sinkhorn_points(x, x, reg=0.1).plan()
        >>> bool(np.allclose(P.sum(axis=1), 0.25))
        True
        """
        C = pairwise_cost(self.x.astype(np.float64), self.y.astype(np.float64),
                          self.cost_name)
        f, g = self._masked()
        return np.exp((f[..., :, None] + g[..., None, :] - C) / self.reg)


def _grad_euclidean(x: np.ndarray, y: np.ndarray, f: np.ndarray, g: np.ndarray,
                    reg: float) -> tuple[np.ndarray, np.ndarray]:
    """sum_j P_ij (x_i - y_j) / |x_i - y_j| and its transpose for one problem, over blocks of
    rows (f, g hold -inf at zero weights, so their plan entries are 0)."""
    m, n = x.shape[0], y.shape[0]
    gx, gy = np.empty_like(x), np.zeros_like(y)
    rows = max(1, (1 << 22) // max(n, 1))
    for start in range(0, m, rows):
        xb = x[start:start + rows]
        D = np.sqrt(np.maximum(pairwise_cost(xb, y, "sqeuclidean"), 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            P = np.exp((f[start:start + rows, None] + g[None, :] - D) / reg)
            W = np.where(D > 0, P / D, 0.0)
        gx[start:start + rows] = W.sum(1)[:, None] * xb - W @ y
        gy += W.sum(0)[:, None] * y - W.T @ xb
    return gx, gy


def _check_cost_range(x: np.ndarray, y: np.ndarray, cost: str, reg: float) -> None:
    """The largest cost is at most the bounding box's diameter (squared): finite, and at most
    MAX_COST_OVER_REG times reg, as the dense solver requires of max|M|."""
    with np.errstate(over="ignore", invalid="ignore"):
        axes = tuple(range(x.ndim - 1))
        hi = np.maximum(x.max(axis=axes), y.max(axis=tuple(range(y.ndim - 1))))
        lo = np.minimum(x.min(axis=axes), y.min(axis=tuple(range(y.ndim - 1))))
        span = (hi.astype(np.float64) - lo) ** 2
        top = float(span.sum())
    if cost == "euclidean":
        top = float(np.sqrt(top))
    if not np.isfinite(top):
        fail("x, y", "clouds whose squared distances fit in float64", "an overflow")
    if top / reg > _checks.MAX_COST_OVER_REG:
        fail("reg", f"a value with max cost / reg below {_checks.MAX_COST_OVER_REG:g}",
             repr(reg))


@_docs.fill
@_arrays.same_kind("x", "y")
def sinkhorn_points(
    x: Any,
    y: Any,
    a: Any = None,
    b: Any = None,
    *,
    reg: float,
    cost: str = "sqeuclidean",
    tol: float = 1e-9,
    max_iter: int = 10000,
    init: Any = None,
    device: str = "cpu",
    stream: Any = None,
) -> PointsResult:
    """Entropic OT between two point clouds, with the cost computed on the fly.

    Solves the problem of :func:`optkern.ot.sinkhorn` for ``M_ij = c(x_i, y_j)`` without
    forming M or the plan: each log-domain iteration recomputes the costs row by row (as
    GeomLoss's online backend does with KeOps), so memory is O((m + n) d) plus one row buffer
    per thread, and clouds of 100,000 points fit where an m x n matrix (80 GB) would not.

    Parameters
    ----------
    x : array_like, shape (..., m, d)
        The first cloud (finite); float32 input is read as float32, all sums are float64.
    y : array_like, shape (..., n, d)
        The second cloud. Batch dimensions of x, y, a and b broadcast (problems are solved
        one after the other, each threaded over its rows).
    a, b : array_like, shapes (..., m) and (..., n), optional
        Weights >= 0 of equal mass (default uniform, b with the mass of a).
    reg : float
        The entropic regularisation epsilon, > 0.
    cost : {"sqeuclidean", "euclidean"}
        ``c(x, y) = |x - y|^2`` or ``|x - y|``.
    tol : float
        Stop when the max-norm marginal error is at most ``tol * sum(a)`` (checked every
        iteration, from the row update, at no extra pass).
    max_iter : int
        The most iterations (>= 1).
    init : array_like, shape (..., n), optional
        A warm start for g (for example a previous result's g).
    {device}
        On CUDA, the problems of a batch are solved together (one thread block per tile of
        128 rows of a problem, see Notes); apply, apply_T and plan() of the result still
        compute on the host.
    {stream}

    Returns
    -------
    PointsResult
        f, g, cost, value, n_iter, marginal_error, converged, and ``apply(v)`` (P v),
        ``apply_T(u)`` (P^T u), ``plan()`` (dense, on request).

    Raises
    ------
    ValueError
        For clouds of different dimensions, non-finite points, bad weights, an unknown cost,
        ``reg <= 0``, ``tol < 0``, ``max_iter < 1``, or ``device="cuda"`` where CUDA is not
        available (the message names the argument).

    Notes
    -----
    Per iteration: ``f_i = reg log a_i - reg LSE_j((g_j - c(x_i, y_j)) / reg)``, then the
    same for g, each cost row computed into a buffer (vectorised over j, the other cloud kept
    transposed) and reduced with the vectorised exp of the dense solver: O(m n d) flops and
    two exps per entry, threads over rows. At the optimum the gradient of the entropic value
    in x is ``sum_j P_ij dc(x_i, y_j)/dx_i`` (envelope theorem), which ``apply`` computes:
    for the squared cost, ``2 (a_i x_i - (P y)_i)``.

    On CUDA, as KeOps does: a soft-min pass runs one thread block per tile of 128 rows, one
    thread per row, streaming the other cloud through shared memory in tiles and keeping an
    online log-sum-exp (one exp per entry, all in float64); the host reads the stopping flags
    every few iterations. Points of d = 1, 2 or 3 coordinates are held in registers; larger d
    reads them from the L1 cache.

    Examples
    --------
    >>> import numpy as np, optkern
    >>> rng = np.random.default_rng(1)
    >>> x, y = rng.normal(size=(30, 2)), rng.normal(size=(20, 2))
    >>> res = optkern.ot.sinkhorn_points(x, y, reg=0.1)
    >>> M = ((x[:, None] - y[None]) ** 2).sum(-1)
    >>> dense = optkern.ot.sinkhorn(M, reg=0.1)
    >>> bool(np.allclose(res.f, dense.f) and np.allclose(res.g, dense.g))
    True
    >>> bool(np.isclose(res.value, dense.value))
    True
    """
    reg = float(_checks.check_reg(reg))
    cost = check_cost_name(cost)
    tol = _checks.check_tol(tol)
    max_iter = _checks.check_max_iter(max_iter)
    where = resolve_device(device, [(x, "x"), (y, "y"), (a, "a"), (b, "b"), (init, "init")],
                           stream)
    options = (reg, points_cost(cost), tol, max_iter)
    if where == "cuda" and any(is_gpu_array(v) for v in (x, y, a, b, init)):
        with _gpu.use_stream(stream):
            f, g, stats, batch, clouds = _cuda.points_on_gpu_arrays(x, y, a, b, init, cost,
                                                                    options)
        x, y, a, b = (_arrays.to_numpy(v) for v in clouds)
        return _result(f, g, stats, batch, x, y, a, b, reg, cost)
    x, y = check_points(x, y)
    _check_cost_range(x, y, cost, reg)
    dtype = x.dtype
    m, n, d = x.shape[-2], y.shape[-2], x.shape[-1]
    a = np.full(m, 1.0 / m, dtype) if a is None else _checks.weights(a, "a", m, dtype,
                                                                     "points of x")
    if b is None:
        b = (np.ones(n) * a.sum(-1, keepdims=True, dtype=np.float64) / n).astype(dtype)
    else:
        b = _checks.weights(b, "b", n, dtype, "points of y")
    _checks.check_equal_mass(a, b)
    g0 = None
    shapes = [(x.shape[:-2], "x"), (y.shape[:-2], "y"), (a.shape[:-1], "a"),
              (b.shape[:-1], "b")]
    if init is not None:
        g0 = as_float_array(init, "init", np.float64, contiguous=False)
        if g0.ndim < 1 or g0.shape[-1] != n:
            fail("init", f"g of shape (..., {n})", f"shape {g0.shape}")
        shapes.append((g0.shape[:-1], "init"))
    batch = broadcast_batch(shapes)
    if where == "cuda":
        with _gpu.use_stream(stream):
            f, g, stats = _cuda.sinkhorn_points(x, y, a, b, g0, batch, options)
        return _result(f, g, stats, batch, x, y, a, b, reg, cost)
    B = math.prod(batch)
    xs = np.broadcast_to(x, batch + (m, d)).reshape(B, m, d)
    ys = np.broadcast_to(y, batch + (n, d)).reshape(B, n, d)
    as_ = np.broadcast_to(a, batch + (m,)).reshape(B, m)
    bs = np.broadcast_to(b, batch + (n,)).reshape(B, n)
    gs = None if g0 is None else np.broadcast_to(g0, batch + (n,)).reshape(B, n)
    f = np.empty((B, m))
    g = np.empty((B, n))
    stats = np.zeros((5, B))
    for k in range(B):
        # The kernel runs on weights of mass near 1 (a and b / 2^e, exact): its log-domain
        # sums overflowed for masses beyond about 1e154 (F + G past exp's range). The plan
        # scales with the mass, so f and g shift by reg log(2^e) / 2 each (the gauge
        # <a, f> = <b, g> splits it evenly), cost and errors scale by 2^e, and the value by
        # 2^e plus reg log(2^e) times the mass.
        mass = float(as_[k].sum(dtype=np.float64))
        scale = math.ldexp(1.0, math.frexp(mass)[1]) if mass > 0 else 1.0
        shift = 0.5 * reg * math.log(scale)
        stats[:, k] = _backend._core.ot.sinkhorn_points(
            np.ascontiguousarray(xs[k]), np.ascontiguousarray(ys[k]),
            np.ascontiguousarray(as_[k] / dtype.type(scale)),
            np.ascontiguousarray(bs[k] / dtype.type(scale)),
            None if gs is None else np.ascontiguousarray(gs[k] - shift), reg, points_cost(cost),
            tol, max_iter, 0, f[k], g[k])
        if scale != 1.0:
            f[k] += shift
            g[k] += shift
            stats[1:3, k] *= scale  # marginal error, cost
            stats[3, k] = scale * stats[3, k] + 2 * shift * mass
    return _result(f, g, tuple(stats), batch, x, y, a, b, reg, cost)


def _result(f: Any, g: Any, stats: tuple, batch: tuple[int, ...], x: np.ndarray,
            y: np.ndarray, a: np.ndarray, b: np.ndarray, reg: float, cost: str) -> PointsResult:
    """A PointsResult from flat (B, m) and (B, n) potentials and the per-problem statistics
    (n_iter, marginal_error, cost, value, converged)."""
    n_iter, error, value_cost, value, converged = (np.asarray(v) for v in stats)
    m, n = x.shape[-2], y.shape[-2]

    def per_item(v: np.ndarray, kind: type) -> Any:
        return per_problem(v.astype(kind), batch)

    return PointsResult(
        f=f.reshape(batch + (m,)), g=g.reshape(batch + (n,)), cost=per_item(value_cost, float),
        value=per_item(value, float), n_iter=per_item(n_iter, np.int64),
        marginal_error=per_item(error, float), converged=per_item(converged, bool),
        x=x, y=y, reg=reg, cost_name=cost, a=a, b=b)
