"""optkern.jax.sinkhorn and sinkhorn_cost: entropic OT with optkern's forward and its implicit
backward, as jax.custom_vjp functions over jax.pure_callback."""

from __future__ import annotations

import warnings
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from optkern import ot as _ot
from optkern import _docs
from optkern._autodiff import marginal_grads
from optkern._validation import check_number, fail, reject_masked

__all__ = ["sinkhorn", "sinkhorn_cost"]


@_docs.fill
def sinkhorn(M: Any, a: Any = None, b: Any = None, *, reg: float, method: str = "auto",
             tol: float = 1e-9, max_iter: int = 10000) -> jax.Array:
    """The entropic OT plan of :func:`optkern.ot.sinkhorn`, differentiable in M, a and b.

    The backward is :func:`optkern.ot.sinkhorn_vjp` (implicit differentiation of the
    optimality conditions), with the marginal gradients described in
    :func:`optkern.torch.sinkhorn`: b is rescaled to the mass of a, and ``dL/da``, ``dL/db``
    are those of that function.

    Parameters
    ----------
    {jax_M}
    {jax_ab}
    {sinkhorn_reg}
        Static (not differentiated).
    {sinkhorn_options}
        Static under ``jax.jit``, as method and tol.

    Returns
    -------
    jax.Array, shape (..., m, n)
        The transport plan.

    Raises
    ------
    ValueError
        For shapes that do not fit (at trace time). Bad values (negative weights, NaN, ...)
        are found by optkern inside the callback, at run time, where JAX re-raises the
        ValueError as its own runtime error with the same message.

    Examples
    --------
    >>> import jax, jax.numpy as jnp, optkern.jax
    >>> x = jnp.linspace(0.0, 1.0, 4)
    >>> M = (x[:, None] - x[None, :]) ** 2
    >>> P = jax.jit(lambda M: optkern.jax.sinkhorn(M, reg=0.1))(M)
    >>> bool(jnp.allclose(P.sum(axis=1), 0.25, atol=1e-6))
    True
    >>> dM = jax.grad(lambda M: jnp.trace(optkern.jax.sinkhorn(M, reg=0.1)))(M)
    >>> bool(jnp.abs(dM.sum(axis=0)).max() < 1e-6)    # every column sums to zero
    True
    """
    return _jitted(M, a, b, **_static_options(M, a, b, reg, tol, max_iter), method=method,
                   value=False)


@_docs.fill
def sinkhorn_cost(M: Any, a: Any = None, b: Any = None, *, reg: float, method: str = "auto",
                  tol: float = 1e-9, max_iter: int = 10000) -> jax.Array:
    """The entropic OT value ``<M, P> + reg <P, log P - 1>``, differentiable in M, a and b
    by the envelope theorem (``d/dM = P``; the potentials give ``d/da, d/db``), as in
    :func:`optkern.torch.sinkhorn_cost`.

    Parameters
    ----------
    {jax_M}
    {jax_ab}
    {sinkhorn_reg}
        Static (not differentiated).
    {sinkhorn_options}
        Static under ``jax.jit``, as method and tol.

    Returns
    -------
    jax.Array, shape (...)
        One value per problem, with M's dtype.

    Raises
    ------
    ValueError
        As :func:`sinkhorn`.

    Examples
    --------
    >>> import jax, jax.numpy as jnp, optkern.jax
    >>> x = jnp.array([0.0, 1.0, 2.0])
    >>> y = jnp.array([0.5, 1.5])
    >>> loss = lambda x: optkern.jax.sinkhorn_cost((x[:, None] - y[None, :]) ** 2, reg=0.05)
    >>> g = jax.grad(loss)(x)
    >>> g.shape, bool(jnp.isfinite(g).all())
    ((3,), True)
    """
    return _jitted(M, a, b, **_static_options(M, a, b, reg, tol, max_iter), method=method,
                   value=True)


def _static_options(M: Any, a: Any, b: Any, reg: Any, tol: Any, max_iter: Any) -> dict:
    """The checks that must come before jit: masked arrays (jit would drop the mask) and
    the static numbers (float(10**400) or float(True) would not say which argument)."""
    for x, name in ((M, "M"), (a, "a"), (b, "b")):
        reject_masked(x, name)
    return {"reg": check_number(reg, "reg", low=0.0, low_open=True),
            "tol": check_number(tol, "tol", low=0.0),
            "max_iter": check_number(max_iter, "max_iter", low=1, integer=True)}


@partial(jax.jit, static_argnames=("reg", "method", "tol", "max_iter", "value"))
def _jitted(M, a, b, *, reg, method, tol, max_iter, value):
    """Compiled once per shape and options, so that eager calls do not trace again."""
    M, a, b = _broadcast(M, a, b)
    return (_value if value else _plan)(M, a, b, reg, method, tol, max_iter)


def _broadcast(M: Any, a: Any, b: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
    """M, a, b in M's dtype and broadcast to the common batch shape (JAX then sums the
    gradients back over broadcast dimensions), the default marginals made explicit."""
    M = jnp.asarray(M)
    if not jnp.issubdtype(M.dtype, jnp.floating):
        M = M.astype(jnp.result_type(float))
    if M.ndim < 2:
        fail("M", "an array with at least 2 dimensions", f"shape {M.shape}")
    m, n = M.shape[-2:]
    a = jnp.full((m,), 1.0 / max(m, 1), M.dtype) if a is None else jnp.asarray(a, M.dtype)
    if b is None:
        b = jnp.sum(a, axis=-1, keepdims=True) / max(n, 1) * jnp.ones(n, M.dtype)
    b = jnp.asarray(b, M.dtype)
    for x, name, size in ((a, "a", m), (b, "b", n)):
        if x.ndim < 1 or x.shape[-1] != size:
            fail(name, f"shape (..., {size}) to match M's shape {M.shape}", f"shape {x.shape}")
    try:
        batch = jnp.broadcast_shapes(M.shape[:-2], a.shape[:-1], b.shape[:-1])
    except ValueError:
        fail("a, b", "batch shapes that broadcast with M's",
             f"M {M.shape}, a {a.shape}, b {b.shape}")
    return (jnp.broadcast_to(M, batch + (m, n)), jnp.broadcast_to(a, batch + (m,)),
            jnp.broadcast_to(b, batch + (n,)))


def _solve(M: np.ndarray, a: np.ndarray, b: np.ndarray, reg: float, method: str, tol: float,
           max_iter: int) -> _ot.SinkhornResult:
    res = _ot.sinkhorn(np.asarray(M), np.asarray(a), np.asarray(b), reg=reg, method=method,
                       tol=tol, max_iter=max_iter)
    converged = np.asarray(res.converged)
    if not converged.all():
        warnings.warn(
            f"optkern.jax: Sinkhorn did not converge for {int((~converged).sum())} of "
            f"{converged.size} problem(s) in max_iter={max_iter} iterations; the gradient is "
            f"that of the returned plan. Raise max_iter or reg.", RuntimeWarning, stacklevel=2)
    return res


def _shape(x: jax.Array) -> jax.ShapeDtypeStruct:
    return jax.ShapeDtypeStruct(x.shape, x.dtype)


# --- the plan ---------------------------------------------------------------------------------


@partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5, 6))
def _plan(M, a, b, reg, method, tol, max_iter):
    return _plan_fwd(M, a, b, reg, method, tol, max_iter)[0]


def _plan_fwd(M, a, b, reg, method, tol, max_iter):
    def host(M, a, b):
        res = _solve(M, a, b, reg, method, tol, max_iter)
        return res.plan, res.f, res.g

    plan, f, g = jax.pure_callback(host, (_shape(M), _shape(a), _shape(b)), M, a, b,
                                   vmap_method="broadcast_all")
    return plan, (plan, a, b, M, f, g)


def _plan_bwd(reg, method, tol, max_iter, residuals, grad_plan):
    plan, a, b, M, f, g = residuals

    def host(plan, grad_plan):
        return _ot.sinkhorn_vjp(np.asarray(plan), np.asarray(grad_plan), reg)

    grad_plan = grad_plan.astype(plan.dtype)
    grad_M, lam, mu = jax.pure_callback(host, (_shape(plan), _shape(a), _shape(b)), plan,
                                        grad_plan, vmap_method="broadcast_all")
    lam, mu = _fill_inactive(lam, mu, grad_plan, M, f, g, reg)
    return (grad_M, *marginal_grads(jnp, lam, mu, a, b))


def _fill_inactive(lam, mu, grad_plan, M, f, g, reg):
    """The multipliers of zero-weight rows and columns (NaN from sinkhorn_vjp) as their
    one-sided limits, as optkern.torch does (see its _fill_inactive): a zero weight gets the
    derivative from the side where it grows, not NaN."""
    rows_out, cols_out = jnp.isnan(lam), jnp.isnan(mu)
    lam0, mu0 = jnp.where(rows_out, 0.0, lam), jnp.where(cols_out, 0.0, mu)
    q = jax.nn.softmax(jnp.where(cols_out[..., None, :], -jnp.inf,
                                 (g[..., None, :] - M) / reg), axis=-1)
    lam = jnp.where(rows_out, (q * (grad_plan - mu0[..., None, :])).sum(-1), lam)
    q = jax.nn.softmax(jnp.where(rows_out[..., :, None], -jnp.inf,
                                 (f[..., :, None] - M) / reg), axis=-2)
    mu = jnp.where(cols_out, (q * (grad_plan - lam0[..., :, None])).sum(-2), mu)
    return lam, mu


_plan.defvjp(_plan_fwd, _plan_bwd)


# --- the value --------------------------------------------------------------------------------


@partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5, 6))
def _value(M, a, b, reg, method, tol, max_iter):
    return _value_fwd(M, a, b, reg, method, tol, max_iter)[0]


def _value_fwd(M, a, b, reg, method, tol, max_iter):
    def host(M, a, b):
        res = _solve(M, a, b, reg, method, tol, max_iter)
        return np.asarray(res.value, M.dtype), res.plan, res.f, res.g

    shapes = (jax.ShapeDtypeStruct(M.shape[:-2], M.dtype), _shape(M), _shape(a), _shape(b))
    value, plan, f, g = jax.pure_callback(host, shapes, M, a, b, vmap_method="broadcast_all")
    return value, (plan, f, g, a, b)


def _value_bwd(reg, method, tol, max_iter, residuals, grad_value):
    plan, f, g, a, b = residuals
    scale = grad_value[..., None]
    grad_a, grad_b = marginal_grads(jnp, f, g, a, b)
    return scale[..., None] * plan, scale * grad_a, scale * grad_b


_value.defvjp(_value_fwd, _value_bwd)
