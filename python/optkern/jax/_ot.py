"""optkern.jax.sinkhorn and sinkhorn_cost: entropic OT with optkern's forward and its implicit
backward, as jax.custom_vjp functions over jax.pure_callback."""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from optkern import _docs
from optkern import ot as _ot
from optkern._autodiff import marginal_grads, warn_unconverged
from optkern._validation import check_number, reject_masked
from optkern.jax._arrays import broadcast_problem, shape_struct

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
    {jax_sinkhorn_problem}

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
    {jax_sinkhorn_problem}

    {jax_value_returns}

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
    M, a, b = broadcast_problem(M, a, b, b_mass_of_a=True)
    return (_value if value else _plan)(M, a, b, None, reg, method, tol, max_iter)


def _solve(M: np.ndarray, a: np.ndarray, b: np.ndarray, g0: Any, reg: float, method: str,
           tol: float, max_iter: int) -> _ot.SinkhornResult:
    """optkern.ot.sinkhorn on the host, from the potential g0 when it is given."""
    init = None if g0 is None else (None, np.asarray(g0))
    res = _ot.sinkhorn(np.asarray(M), np.asarray(a), np.asarray(b), reg=reg, method=method,
                       tol=tol, max_iter=max_iter, init=init)
    warn_unconverged(res, "jax", max_iter, stacklevel=2)
    return res


def _warm_start(g0: Any) -> tuple:
    """The callback's extra operand: g0, or nothing for a cold start."""
    return () if g0 is None else (g0,)


def _no_gradient(g0: Any) -> Any:
    """The cotangent of the warm start: the solution does not depend on it."""
    return None if g0 is None else jnp.zeros_like(g0)


# --- the plan (implicit backward) ---------------------------------------------------------
# Both functions take a warm start g0 (a potential, or None): sinkhorn_divergence starts
# its problems from the symmetric fixed point (optkern.jax._losses).


@partial(jax.custom_vjp, nondiff_argnums=(4, 5, 6, 7))
def _plan(M, a, b, g0, reg, method, tol, max_iter):
    return _plan_fwd(M, a, b, g0, reg, method, tol, max_iter)[0]


def _solve_on_host(M, a, b, g0, reg, method, tol, max_iter, value):
    """The forward solve of _plan and _value on the host: (plan, f, g), led by the value
    per problem (in M's dtype) when `value`."""
    def host(M, a, b, *g0):
        res = _solve(M, a, b, g0[0] if g0 else None, reg, method, tol, max_iter)
        head = (np.asarray(res.value, M.dtype),) if value else ()
        return (*head, res.plan, res.f, res.g)

    head = (jax.ShapeDtypeStruct(M.shape[:-2], M.dtype),) if value else ()
    shapes = (*head, shape_struct(M), shape_struct(a), shape_struct(b))
    return jax.pure_callback(host, shapes, M, a, b, *_warm_start(g0),
                             vmap_method="broadcast_all")


def _plan_fwd(M, a, b, g0, reg, method, tol, max_iter):
    plan, f, g = _solve_on_host(M, a, b, g0, reg, method, tol, max_iter, value=False)
    return plan, (plan, a, b, M, f, g, g0)


def _plan_bwd(reg, method, tol, max_iter, residuals, grad_plan):
    plan, a, b, M, f, g, g0 = residuals

    def host(plan, grad_plan):
        return _ot.sinkhorn_vjp(np.asarray(plan), np.asarray(grad_plan), reg)

    grad_plan = grad_plan.astype(plan.dtype)
    grad_M, lam, mu = jax.pure_callback(
        host, (shape_struct(plan), shape_struct(a), shape_struct(b)), plan, grad_plan,
        vmap_method="broadcast_all")
    lam, mu = _fill_inactive(lam, mu, grad_plan, M, f, g, reg)
    return (grad_M, *marginal_grads(jnp, lam, mu, a, b), _no_gradient(g0))


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


# --- the value (envelope backward) ----------------------------------------------------------


@partial(jax.custom_vjp, nondiff_argnums=(4, 5, 6, 7))
def _value(M, a, b, g0, reg, method, tol, max_iter):
    return _value_fwd(M, a, b, g0, reg, method, tol, max_iter)[0]


def _value_fwd(M, a, b, g0, reg, method, tol, max_iter):
    value, plan, f, g = _solve_on_host(M, a, b, g0, reg, method, tol, max_iter, value=True)
    return value, (plan, f, g, a, b, g0)


def _value_bwd(reg, method, tol, max_iter, residuals, grad_value):
    plan, f, g, a, b, g0 = residuals
    scale = grad_value[..., None]
    grad_a, grad_b = marginal_grads(jnp, f, g, a, b)
    return scale[..., None] * plan, scale * grad_a, scale * grad_b, _no_gradient(g0)


_value.defvjp(_value_fwd, _value_bwd)
