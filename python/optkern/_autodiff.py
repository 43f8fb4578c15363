"""What the PyTorch and JAX adapters share: the install hint, and the marginal gradients of
Sinkhorn written once for any array namespace (NumPy, torch, jax.numpy).

Why the marginal gradients need more than :func:`optkern.ot.sinkhorn_vjp`: the plan solves the
problem with marginals ``a`` and ``b' = b * sum(a) / sum(b)`` (sinkhorn rescales b to the mass
of a, after checking they agree to 1e-6). sinkhorn_vjp gives the multipliers (lambda, mu) of
that problem, meaningful only up to (lambda + t, mu - t) because a and b' keep equal mass.
The function the adapters expose takes a and b separately, and its derivatives follow by the
chain rule through b'::

    dL/da_i = lambda_i + <mu, b> / sum(b)
    dL/db_j = (sum(a) / sum(b)) (mu_j - <mu, b> / sum(b))

Both are free of the gauge t, and they are what finite differences (gradcheck, check_grads)
see when a or b alone moves. The same holds for the entropic value with the potentials (f, g)
in place of (lambda, mu).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

__all__ = ["install_hint", "marginal_grads", "warn_unconverged"]


def install_hint(module: str, package: str, extra: str, note: str = "") -> str:
    """The message of the ImportError raised by ``import optkern.<module>`` without it: the
    optkern extra that installs it."""
    return (f"optkern.{module} needs {package}, which is not installed: "
            f"pip install 'optkern[{extra}]'{note}")


def warn_unconverged(res: Any, adapter: str, max_iter: int, stacklevel: int) -> None:
    """A RuntimeWarning when some problem of a SinkhornResult did not converge: the
    adapters differentiate the plan they return, which is then not the optimal one."""
    converged = np.asarray(res.converged)
    if not converged.all():
        warnings.warn(
            f"optkern.{adapter}: Sinkhorn did not converge for {int((~converged).sum())} of "
            f"{converged.size} problem(s) in max_iter={max_iter} iterations (largest marginal "
            f"error {float(np.max(res.marginal_error)):.3g}); the gradient is that of the "
            f"returned plan. Raise max_iter or reg.", RuntimeWarning, stacklevel=stacklevel + 1)


def marginal_grads(xp: Any, lam: Any, mu: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """(dL/da, dL/db) per problem from the multipliers (lam, mu) of the rescaled problem.

    ``xp`` is the array namespace (numpy, torch or jax.numpy); lam (..., m), mu (..., n) and
    a (..., m), b (..., n) broadcast over the batch dimensions. Multipliers of empty columns
    (NaN, from sinkhorn_vjp) do not enter ``<mu, b>``: their weight b_j is zero.
    """
    sa = xp.sum(a, axis=-1, keepdims=True)
    sb = xp.sum(b, axis=-1, keepdims=True)
    mu_b = xp.sum(xp.where(b > 0, mu * b, 0 * b), axis=-1, keepdims=True) / sb
    return lam + mu_b, (sa / sb) * (mu - mu_b)
