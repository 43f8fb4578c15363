"""optkern.jax.sinkhorn2 and sinkhorn_divergence: POT's loss and the debiased Sinkhorn
divergence, differentiable through optkern's plan backward (implicit) and value backward
(envelope)."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from optkern import _docs
from optkern._autodiff import marginal_grads
from optkern._validation import check_number, fail
from optkern.jax._arrays import float_matrix, shape_struct
from optkern.jax._ot import _plan, _value, sinkhorn
from optkern.ot import _divergence
from optkern.ot._divergence import symmetric_points_potential
from optkern.ot._losses import (
    check_cloud_shapes,
    check_cost_name,
    check_loss_name,
    symmetric_potential,
)
from optkern.ot._points import sinkhorn_points

__all__ = ["sinkhorn2", "sinkhorn_divergence"]


@_docs.fill
def sinkhorn2(M: Any, a: Any = None, b: Any = None, *, reg: float, method: str = "auto",
              tol: float = 1e-9, max_iter: int = 10000) -> jax.Array:
    """POT's ``sinkhorn2`` loss ``<M, P>`` (:func:`optkern.ot.sinkhorn2`), differentiable in
    M, a and b through the implicit backward of :func:`optkern.jax.sinkhorn` (this loss is not
    an envelope: ``dL/dM = P + (the plan's backward applied to M)``).

    Parameters
    ----------
    {jax_sinkhorn_problem}

    {jax_value_returns}

    Examples
    --------
    >>> import jax, jax.numpy as jnp, optkern.jax
    >>> x = jnp.array([0.0, 1.0, 2.0])
    >>> y = jnp.array([0.5, 1.5])
    >>> loss = lambda x: optkern.jax.sinkhorn2((x[:, None] - y[None, :]) ** 2, reg=0.05)
    >>> g = jax.grad(loss)(x)
    >>> round(float(loss(x)), 4), g.shape
    (0.25, (3,))
    """
    M = float_matrix(M)
    P = sinkhorn(M, a, b, reg=reg, method=method, tol=tol, max_iter=max_iter)
    return jnp.sum(M * P, axis=(-2, -1))


def pairwise_cost(x: jax.Array, y: jax.Array, cost: str) -> jax.Array:
    """|x_i - y_j|^2 or |x_i - y_j| (subgradient 0 where two points coincide)."""
    diff = x[..., :, None, :] - y[..., None, :, :]
    sq = jnp.sum(diff * diff, axis=-1)
    if cost == "sqeuclidean":
        return sq
    positive = sq > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1.0)), 0.0)


@_docs.fill
def sinkhorn_divergence(x: Any, y: Any, a: Any = None, b: Any = None, *, reg: float,
                        cost: str = "sqeuclidean", loss: str = "entropic",
                        method: str = "auto", tol: float = 1e-9,
                        max_iter: int = 10000) -> jax.Array:
    """The debiased Sinkhorn divergence of :func:`optkern.ot.sinkhorn_divergence`,
    differentiable in x, y, a and b (entropic: envelope theorem; linear: implicit backward).
    With the entropic loss, clouds of more than 2^24 pairs per cost run as
    :func:`optkern.ot.sinkhorn_divergence` does, with no cost matrix (the envelope gradient
    applied on the fly by :meth:`optkern.ot.PointsResult.grad_xy`).

    Parameters
    ----------
    x, y : array_like, shapes (..., m, d) and (..., n, d)
        The clouds.
    {cloud_ab}
    {divergence_options}

    Returns
    -------
    jax.Array, shape (...)
        S per problem, >= 0.

    Raises
    ------
    ValueError
        As :func:`optkern.ot.sinkhorn_divergence` (shapes at trace time).

    Examples
    --------
    >>> import jax, jax.numpy as jnp, optkern.jax
    >>> x = jax.random.normal(jax.random.PRNGKey(0), (20, 2))
    >>> y = jax.random.normal(jax.random.PRNGKey(1), (30, 2)) + 1
    >>> s, gx = jax.value_and_grad(lambda x: optkern.jax.sinkhorn_divergence(x, y, reg=0.1))(x)
    >>> bool(s > 0), gx.shape
    (True, (20, 2))
    """
    reg = check_number(reg, "reg", low=1e-300)
    cost = check_cost_name(cost)
    loss = check_loss_name(loss)
    x, y = jnp.asarray(x), jnp.asarray(y)
    check_cloud_shapes(x.shape, y.shape)
    dtype = jnp.result_type(x.dtype, y.dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.result_type(float)
    x, y = x.astype(dtype), y.astype(dtype)
    m, n = x.shape[-2], y.shape[-2]
    a_given = a
    a = jnp.full((m,), 1.0 / m, dtype) if a is None else jnp.asarray(a, dtype)
    if b is None:  # as in optkern.ot (equal inputs give equal arrays)
        b = jnp.full((n,), 1.0 / n, dtype) if a_given is None else (
            jnp.sum(a, axis=-1, keepdims=True) / n * jnp.ones(n, dtype))
    b = jnp.asarray(b, dtype)
    for w, name, size in ((a, "a", m), (b, "b", n)):
        if w.ndim < 1 or w.shape[-1] != size:
            fail(name, f"shape (..., {size}) to match the points", f"shape {w.shape}")
    try:
        batch = jnp.broadcast_shapes(x.shape[:-2], y.shape[:-2], a.shape[:-1], b.shape[:-1])
    except ValueError:
        fail("x, y, a, b", "batch shapes that broadcast",
             f"x {x.shape}, y {y.shape}, a {a.shape}, b {b.shape}")
    x, y = jnp.broadcast_to(x, batch + x.shape[-2:]), jnp.broadcast_to(y, batch + y.shape[-2:])
    a, b = jnp.broadcast_to(a, batch + (m,)), jnp.broadcast_to(b, batch + (n,))
    if loss == "entropic" and max(m, n) ** 2 > _divergence.ONLINE_PAIRS:
        # Large clouds, as optkern.ot: no cost matrix, the envelope gradient on the fly, and
        # the same warm starts (the symmetric fixed points, not differentiated).
        online = (reg, cost, float(tol), int(max_iter))
        g_xx, g_yy = _symmetric_warm(x, a, reg, cost), _symmetric_warm(y, b, reg, cost)
        s = (_points_value(x, y, a, b, g_yy, *online)
             - 0.5 * _points_value(x, x, a, a, g_xx, *online)
             - 0.5 * _points_value(y, y, b, b, g_yy, *online))
        return jnp.maximum(s, 0.0)
    C_xy, C_xx, C_yy = (pairwise_cost(p, q, cost) for p, q in ((x, y), (x, x), (y, y)))
    args = (reg, method, float(tol), int(max_iter))
    solve = _value if loss == "entropic" else _loss_warm
    g_yy = _warm(C_yy, b, reg)
    ab = solve(C_xy, a, b, g_yy, *args)
    aa = solve(C_xx, a, a, _warm(C_xx, a, reg), *args)
    bb = solve(C_yy, b, b, g_yy, *args)
    return jnp.maximum(ab - 0.5 * aa - 0.5 * bb, 0.0)


def _symmetric_warm(x: jax.Array, w: jax.Array, reg: float, cost: str) -> jax.Array:
    """The symmetric fixed point of OT(w, w) on the cloud x, computed on the host with no
    cost matrix (optkern.ot._divergence), as a warm start (not differentiated)."""
    def host(x, w):
        return symmetric_points_potential(x, w, x.shape[:-2], reg, cost).astype(w.dtype)

    x, w = jax.lax.stop_gradient(x), jax.lax.stop_gradient(w)
    return jax.pure_callback(host, shape_struct(w), x, w, vmap_method="broadcast_all")


def _points_host(x: jax.Array, y: jax.Array, a: jax.Array, b: jax.Array, g0: jax.Array,
                 reg: float, cost: str, tol: float, max_iter: int, grads: bool) -> Any:
    """optkern.ot.sinkhorn_points on the host from the warm start g0: the value, and with
    `grads` its envelope gradients in x and y and the potentials f, g."""
    def host(x, y, a, b, g0):
        res = sinkhorn_points(x, y, a, b, reg=reg, cost=cost, tol=tol, max_iter=max_iter,
                              init=g0)
        value = np.asarray(res.value, x.dtype).reshape(x.shape[:-2])
        if not grads:
            return value
        gx, gy = res.grad_xy()
        return (value, gx.astype(x.dtype), gy.astype(y.dtype), np.asarray(res.f, x.dtype),
                np.asarray(res.g, y.dtype))

    value = jax.ShapeDtypeStruct(x.shape[:-2], x.dtype)
    shapes = (value, shape_struct(x), shape_struct(y), shape_struct(a), shape_struct(b))
    return jax.pure_callback(host, shapes if grads else value, x, y, a, b,
                             jax.lax.stop_gradient(g0), vmap_method="broadcast_all")


@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6, 7, 8))
def _points_value(x, y, a, b, g0, reg, cost, tol, max_iter):
    """The entropic value of sinkhorn_points, differentiable by the envelope theorem (g0, the
    warm start, is not differentiated)."""
    return _points_host(x, y, a, b, g0, reg, cost, tol, max_iter, grads=False)


def _points_value_fwd(x, y, a, b, g0, reg, cost, tol, max_iter):
    value, gx, gy, f, g = _points_host(x, y, a, b, g0, reg, cost, tol, max_iter, grads=True)
    return value, (gx, gy, f, g, a, b, g0)


def _points_value_bwd(reg, cost, tol, max_iter, residuals, ct):
    gx, gy, f, g, a, b, g0 = residuals
    ga, gb = marginal_grads(jnp, f, g, a, b)
    return (ct[..., None, None] * gx, ct[..., None, None] * gy, ct[..., None] * ga,
            ct[..., None] * gb, jnp.zeros_like(g0))


_points_value.defvjp(_points_value_fwd, _points_value_bwd)


def _warm(C: jax.Array, w: jax.Array, reg: float) -> jax.Array:
    """The symmetric fixed point of OT(w, w) as a warm start (see optkern.ot._losses)."""
    def host(C, w):
        return symmetric_potential(C, w, reg).astype(C.dtype)

    C, w = jax.lax.stop_gradient(C), jax.lax.stop_gradient(w)
    return jax.pure_callback(host, shape_struct(w), C, w, vmap_method="broadcast_all")


def _loss_warm(M, a, b, g0, reg, method, tol, max_iter):
    """POT's loss <M, P> through the plan's implicit backward, warm-started from g0."""
    return jnp.sum(M * _plan(M, a, b, g0, reg, method, tol, max_iter), axis=(-2, -1))
