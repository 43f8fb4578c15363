"""optkern.jax.sinkhorn_unbalanced: the unbalanced plan with its implicit backward."""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import numpy as np

from optkern import _docs
from optkern import ot as _ot
from optkern.jax._arrays import broadcast_problem, shape_struct
from optkern.ot._unbalanced import check_reg_m

__all__ = ["sinkhorn_unbalanced"]


@_docs.fill
def sinkhorn_unbalanced(M: Any, a: Any = None, b: Any = None, *, reg: float, reg_m: Any,
                        reg_type: str = "kl", tol: float = 1e-9,
                        max_iter: int = 10000) -> jax.Array:
    """The plan of :func:`optkern.ot.sinkhorn_unbalanced`, differentiable in M, a and b
    (backward: :func:`optkern.ot.sinkhorn_unbalanced_vjp`, through ``jax.pure_callback``).

    Parameters
    ----------
    M : array_like, shape (..., m, n)
        Cost matrices.
    a, b : array_like, shapes (..., m) and (..., n), optional
        Weights (default uniform, of mass 1), cast to M's dtype; batch dimensions broadcast.
    {unbalanced_options}
        Static (every parameter but M, a and b).

    Returns
    -------
    jax.Array, shape (..., m, n)
        The plan.

    Raises
    ------
    ValueError
        For shapes that do not fit or bad parameters (at trace time); bad values inside the
        callback at run time.

    Examples
    --------
    >>> import jax, jax.numpy as jnp, optkern.jax
    >>> M = jax.random.uniform(jax.random.PRNGKey(0), (4, 3))
    >>> loss = lambda M: jnp.sum(M * optkern.jax.sinkhorn_unbalanced(M, reg=0.1, reg_m=1.0))
    >>> jax.grad(loss)(M).shape
    (4, 3)
    """
    rho = check_reg_m(reg_m)
    M, a, b = broadcast_problem(M, a, b, b_mass_of_a=False)
    return _plan(M, a, b, float(reg), rho, reg_type, float(tol), int(max_iter))


@partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5, 6, 7))
def _plan(M, a, b, reg, rho, reg_type, tol, max_iter):
    return _plan_fwd(M, a, b, reg, rho, reg_type, tol, max_iter)[0]


def _plan_fwd(M, a, b, reg, rho, reg_type, tol, max_iter):
    def host(M, a, b):
        return _ot.sinkhorn_unbalanced(np.asarray(M), np.asarray(a), np.asarray(b), reg=reg,
                                       reg_m=rho, reg_type=reg_type, tol=tol,
                                       max_iter=max_iter).plan

    plan = jax.pure_callback(host, shape_struct(M), M, a, b, vmap_method="broadcast_all")
    return plan, (plan, a, b)


def _plan_bwd(reg, rho, reg_type, tol, max_iter, residuals, grad_plan):
    plan, a, b = residuals

    def host(plan, grad_plan, a, b):
        return _ot.sinkhorn_unbalanced_vjp(np.asarray(plan), np.asarray(grad_plan),
                                           np.asarray(a), np.asarray(b), reg=reg, reg_m=rho,
                                           reg_type=reg_type)

    return jax.pure_callback(host, (shape_struct(plan), shape_struct(a), shape_struct(b)), plan,
                             grad_plan.astype(plan.dtype), a, b, vmap_method="broadcast_all")


_plan.defvjp(_plan_fwd, _plan_bwd)
