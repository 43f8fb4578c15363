"""What the JAX adapters do alike to their arrays before a callback: the float cast of M, the
default marginals, the shape checks and the broadcast to one batch shape."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from optkern._validation import fail


def shape_struct(x: jax.Array) -> jax.ShapeDtypeStruct:
    """The shape and dtype of x, as jax.pure_callback declares its results."""
    return jax.ShapeDtypeStruct(x.shape, x.dtype)


def float_matrix(M: Any) -> jax.Array:
    """M as a JAX array of a floating dtype (integers become JAX's default float)."""
    M = jnp.asarray(M)
    if not jnp.issubdtype(M.dtype, jnp.floating):
        M = M.astype(jnp.result_type(float))
    return M


def broadcast_problem(M: Any, a: Any, b: Any, *,
                      b_mass_of_a: bool) -> tuple[jax.Array, jax.Array, jax.Array]:
    """M, a, b in M's (floating) dtype and broadcast to the common batch shape (JAX then sums
    the gradients back over broadcast dimensions), the default marginals made explicit:
    uniform, b with the mass of a (balanced OT) or of mass 1 (``b_mass_of_a=False``)."""
    M = float_matrix(M)
    if M.ndim < 2:
        fail("M", "an array with at least 2 dimensions", f"shape {M.shape}")
    m, n = M.shape[-2:]
    a = jnp.full((m,), 1.0 / max(m, 1), M.dtype) if a is None else jnp.asarray(a, M.dtype)
    if b is None:
        mass = jnp.sum(a, axis=-1, keepdims=True) if b_mass_of_a else 1.0
        b = mass / max(n, 1) * jnp.ones(n, M.dtype)
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
