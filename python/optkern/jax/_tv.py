"""optkern.jax.tv_denoise: 1-D total variation denoising with its exact backward, as a
jax.custom_vjp function over jax.pure_callback."""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from optkern import _docs
from optkern import tv as _tv
from optkern._validation import check_number, fail, reject_masked
from optkern.tv._checks import is_edge_weights

__all__ = ["tv_denoise"]


@_docs.fill
def tv_denoise(x: Any, lam: Any, *, method: str = "exact", tol: float = 1e-6,
               max_iter: int = 1000, rtol: float | None = None) -> jax.Array:
    """The prox of λ·TV along the last axis (:func:`optkern.tv.denoise`), differentiable in x
    and λ, with the exact backward :func:`optkern.tv.denoise_vjp`.

    Parameters
    ----------
    x : array_like, shape (..., n)
        Signals; the result has x's dtype.
    lam : float or array_like
        λ >= 0: a scalar or one value per signal (a shape that broadcasts to
        ``x.shape[:-1]``, or ``x.shape[:-1] + (1,)``), or one weight per edge (shape
        ``(..., n - 1)``, as in :func:`optkern.tv.denoise`); its gradient has its shape.
    {tv_options}
    {tv_rtol}
        Static under ``jax.jit``, as method, tol and max_iter.

    Returns
    -------
    jax.Array, shape (..., n)

    Raises
    ------
    ValueError
        For shapes that do not fit (at trace time); bad values are found by optkern inside
        the callback, at run time (JAX re-raises them as its runtime error).

    Examples
    --------
    >>> import jax, jax.numpy as jnp, optkern.jax
    >>> x = jnp.array([0.0, 0.1, 3.0, 3.1, 2.9])
    >>> y = jax.jit(optkern.jax.tv_denoise)(x, 0.5)
    >>> [round(float(v), 4) for v in y]
    [0.3, 0.3, 2.8333, 2.8333, 2.8333]
    >>> gx, glam = jax.grad(lambda x, lam: optkern.jax.tv_denoise(x, lam)[0]
    ...                     + 3 * optkern.jax.tv_denoise(x, lam)[4], argnums=(0, 1))(x, 0.5)
    >>> [round(float(v), 4) for v in gx], round(float(glam), 4)
    ([0.5, 0.5, 1.0, 1.0, 1.0], -0.5)
    """
    reject_masked(x, "x")
    reject_masked(lam, "lam")
    if isinstance(lam, (bool, np.bool_)) or getattr(lam, "dtype", None) == np.bool_:
        fail("lam", "finite values >= 0 (numbers, not booleans)", repr(lam))
    if rtol is None and method == "irls":
        rtol = 1e-6
    if method == "irls":  # as optkern.tv.denoise, which reads tol and max_iter only there
        tol = check_number(tol, "tol", low=0.0, low_open=True)
        max_iter = check_number(max_iter, "max_iter", low=1, integer=True)
    else:
        tol, max_iter = 1e-6, 1000  # unused; fixed values keep one compiled version
    return _jitted(x, lam, method=method, tol=tol, max_iter=max_iter,
                   rtol=None if rtol is None else check_number(rtol, "rtol", low=0.0))


@partial(jax.jit, static_argnames=("method", "tol", "max_iter", "rtol"))
def _jitted(x, lam, *, method, tol, max_iter, rtol):
    """Compiled once per shape and options, so that eager calls do not trace again."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    if x.ndim < 1:
        fail("x", "an array with at least 1 dimension", f"shape {x.shape}")
    lam = jnp.asarray(lam, x.dtype)
    batch = x.shape[:-1]
    if is_edge_weights(lam, x.shape):  # one weight per edge, (..., n - 1)
        edges = jnp.broadcast_to(lam, batch + (x.shape[-1] - 1,))
        return _denoise(x, edges, method, tol, max_iter, rtol)
    if lam.ndim == len(batch) + 1 and lam.shape[-1:] == (1,):
        lam = lam[..., 0]  # the keepdims form x.shape[:-1] + (1,)
    try:
        fits = jnp.broadcast_shapes(lam.shape, batch) == batch
    except ValueError:
        fits = False
    if not fits:
        fail("lam", f"a scalar or a shape that broadcasts to x's batch shape {batch}",
             f"shape {lam.shape}")
    return _denoise(x, jnp.broadcast_to(lam, batch), method, tol, max_iter, rtol)


@partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5))
def _denoise(x, lam, method, tol, max_iter, rtol):
    return _denoise_fwd(x, lam, method, tol, max_iter, rtol)[0]


def _denoise_fwd(x, lam, method, tol, max_iter, rtol):
    def host(x, lam):
        return _tv.denoise(np.asarray(x), np.asarray(lam), method=method, tol=tol,
                           max_iter=max_iter)

    y = jax.pure_callback(host, jax.ShapeDtypeStruct(x.shape, x.dtype), x, lam,
                          vmap_method="broadcast_all")
    return y, (y, lam)


def _denoise_bwd(method, tol, max_iter, rtol, residuals, grad_y):
    y, lam = residuals

    def host(y, grad_y, lam):
        grad_x, grad_lam = _tv.denoise_vjp(np.asarray(y), np.asarray(grad_y), np.asarray(lam),
                                           rtol=rtol)
        return grad_x, np.asarray(grad_lam, y.dtype).reshape(lam.shape)

    shapes = (jax.ShapeDtypeStruct(y.shape, y.dtype), jax.ShapeDtypeStruct(lam.shape, y.dtype))
    return jax.pure_callback(host, shapes, y, grad_y.astype(y.dtype), lam,
                             vmap_method="broadcast_all")


_denoise.defvjp(_denoise_fwd, _denoise_bwd)
