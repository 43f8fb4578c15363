"""Argument checks and batch layout for optkern.ot (host arrays).

Every operand is turned into a C-contiguous array stacked over the flattened batch, with a
leading extent of 1 when it is shared by the whole batch (the kernel then reads it with a
stride of 0 instead of copying it B times).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from optkern import _backend
from optkern._validation import (
    as_array,
    as_float_array,
    broadcast_batch,
    check_number,
    compute_dtype,
    describe,
    fail,
)

# |sum a - sum b| tolerated relative to the mass (b is then rescaled), and the largest
# max|M| / reg: the kernels' constants (cpp/include/optkern/ot/sinkhorn_step.hpp says why).
MASS_RTOL = float(_backend._core.ot.MASS_RTOL)
MAX_COST_OVER_REG = float(_backend._core.ot.MAX_COST_OVER_REG)
MAX_ITER_LIMIT = 2**31 - 1
# The total mass of a and b: beyond, the potentials and values overflow (mass 1e307 gave NaN)
# or the weights lose their precision to subnormals. The plan scales with the mass.
MASS_RANGE = (1e-300, 1e300)


@dataclass
class Problem:
    """Operands ready for the kernel: M (1|B, m, n), a (1|B, m), b (1|B, n), init_g or None."""

    M: np.ndarray
    a: np.ndarray
    b: np.ndarray
    init_g: np.ndarray | None
    batch_shape: tuple[int, ...]
    m: int
    n: int
    dtype: np.dtype

    @property
    def batch(self) -> int:
        return math.prod(self.batch_shape)


def check_method(method: Any) -> Any:
    """The kernels' SinkhornMethod (cpp/include/optkern/ot.hpp) named `method`."""
    methods = _backend._core.ot.SinkhornMethod.__members__
    if not isinstance(method, str) or method not in methods:
        fail("method", "'auto', 'plain' or 'log'", repr(method))
    return methods[method]


# reg from 1e-300 up: the gradients scale with 1/reg, which a subnormal reg overflows
# (rounding errors of 1e-16 became Inf).
MIN_REG = 1e-300


def check_reg(reg: Any) -> float:
    return check_number(reg, "reg", low=MIN_REG)


def check_max_iter(max_iter: Any) -> int:
    return check_number(max_iter, "max_iter", low=1, high=MAX_ITER_LIMIT, integer=True)


def check_tol(tol: Any) -> float:
    return check_number(tol, "tol", low=0.0)


def stack(x: np.ndarray, core_ndim: int, batch_shape: tuple[int, ...]) -> np.ndarray:
    """x (batch..., core...) as a C-contiguous (1 | B, core...) array for the kernel."""
    core = x.shape[x.ndim - core_ndim:]
    own = x.shape[: x.ndim - core_ndim]
    if math.prod(own) == 1:
        return np.ascontiguousarray(x.reshape((1,) + core))
    if own != batch_shape:
        x = np.broadcast_to(x, batch_shape + core)
    return np.ascontiguousarray(x.reshape((math.prod(batch_shape),) + core))


def weights(x: Any, name: str, size: int, dtype: np.dtype, side: str) -> np.ndarray:
    """Marginal weights (..., size): finite, >= 0, each with a positive sum."""
    # converted before the finiteness check: 1e300 is finite in float64, not in float32
    x = as_float_array(x, name, dtype, contiguous=False)
    if x.ndim < 1 or x.shape[-1] != size:
        fail(name, f"shape (..., {size}) to match the {size} {side} of M", f"shape {x.shape}")
    if x.size and x.min() < 0:
        fail(name, "weights >= 0", "a negative entry")
    with np.errstate(over="ignore"):  # a mass beyond the range: rejected below
        sums = x.sum(axis=-1, dtype=np.float64)
    if np.any(sums <= 0):
        fail(name, "weights with a positive sum", "all zeros")
    low, high = MASS_RANGE
    if np.any((sums < low) | ~(sums <= high)):
        bad = sums[(sums < low) | ~(sums <= high)].ravel()[0]
        fail(name, f"a total mass between {low:g} and {high:g} (the plan scales with the "
                   f"mass: rescale the weights)", f"{bad:.3g}")
    return x


def check_equal_mass(a: np.ndarray, b: np.ndarray) -> None:
    try:
        sa, sb = np.broadcast_arrays(a.sum(axis=-1, dtype=np.float64),
                                     b.sum(axis=-1, dtype=np.float64))
    except ValueError:
        fail("a, b", "batch shapes that broadcast", f"a {a.shape}, b {b.shape}")
    gap = np.abs(sa - sb) - MASS_RTOL * np.maximum(sa, sb)
    if np.any(gap > 0):
        k = np.unravel_index(int(np.argmax(gap)), gap.shape)
        fail("b", f"the same total mass as a ({sa[k]:.9g}) to a relative {MASS_RTOL:g}",
             f"{sb[k]:.9g}")


def check_cost(M: np.ndarray, reg: float) -> None:
    """M finite, and max|M| / reg at most MAX_COST_OVER_REG. Two reductions and no
    temporary array (min and max propagate NaN, and are infinite when M has an Inf)."""
    if not M.size:
        return
    lo, hi = float(M.min()), float(M.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        fail("M", "finite values", "NaN or Inf")
    if max(abs(lo), abs(hi)) / reg > MAX_COST_OVER_REG:
        fail("reg", f"a value with max|M| / reg below {MAX_COST_OVER_REG:g}", repr(reg))


def prepare(M: Any, a: Any, b: Any, reg: float, init: Any) -> Problem:
    """Validate the inputs of sinkhorn and lay them out for the kernel."""
    M = as_float_array(M, "M", min_ndim=2, finite=False, contiguous=False)
    dtype = M.dtype
    m, n = M.shape[-2:]
    if m == 0 or n == 0:
        fail("M", "at least one row and one column", f"shape {M.shape}")
    check_cost(M, reg)
    a = np.full(m, 1.0 / m, dtype) if a is None else weights(a, "a", m, dtype, "rows")
    if b is None:
        mass = a.sum(axis=-1, dtype=np.float64, keepdims=True)
        b = (np.ones(n) * mass / n).astype(dtype)
    else:
        b = weights(b, "b", n, dtype, "columns")
    check_equal_mass(a, b)
    init_g = initial_g(init, M, a, b, reg, dtype)
    shapes = [(M.shape[:-2], "M"), (a.shape[:-1], "a"), (b.shape[:-1], "b")]
    if init_g is not None:
        shapes.append((init_g.shape[:-1], "init"))
    batch_shape = broadcast_batch(shapes)
    return Problem(
        M=stack(M, 2, batch_shape),
        a=stack(a, 1, batch_shape),
        b=stack(b, 1, batch_shape),
        init_g=None if init_g is None else stack(init_g, 1, batch_shape),
        batch_shape=batch_shape,
        m=m,
        n=n,
        dtype=dtype,
    )


def initial_g(init: Any, M: np.ndarray, a: np.ndarray, b: np.ndarray, reg: float,
              dtype: np.dtype) -> np.ndarray | None:
    """The column potentials g a warm start begins from: init's g, or the soft c-transform
    of its f when g is None."""
    if init is None:
        return None
    if not isinstance(init, (tuple, list)) or len(init) != 2:
        fail("init", "a pair (f, g) of potentials (either may be None)", describe(init))
    f0, g0 = init
    m, n = M.shape[-2:]
    batch = broadcast_batch([(M.shape[:-2], "M"), (a.shape[:-1], "a"), (b.shape[:-1], "b")])

    def check_batch(x: np.ndarray, which: str) -> None:
        try:
            np.broadcast_shapes(x.shape[:-1], batch)
        except ValueError:
            fail("init", f"{which} whose batch shape broadcasts with {batch}, the batch shape "
                 "of M, a and b", f"shape {x.shape}")

    if g0 is not None:
        g0 = as_float_array(g0, "init", dtype, contiguous=False)
        if g0.ndim < 1 or g0.shape[-1] != n:
            fail("init", f"g of shape (..., {n})", f"shape {g0.shape}")
        check_batch(g0, "g")
        return g0
    if f0 is None:
        fail("init", "a pair (f, g) with at least one of them given", "(None, None)")
    f0 = as_float_array(f0, "init", contiguous=False)
    if f0.ndim < 1 or f0.shape[-1] != m:
        fail("init", f"f of shape (..., {m})", f"shape {f0.shape}")
    check_batch(f0, "f")
    # g_j = reg log b_j - reg LSE_i((f_i - M_ij) / reg), in float64; zero weights are skipped.
    x = (f0.astype(np.float64)[..., :, None] - M.astype(np.float64)) / reg
    x = np.where(np.asarray(a)[..., :, None] > 0, x, -np.inf)
    top = x.max(axis=-2)
    lse = top + np.log(np.exp(x - top[..., None, :]).sum(axis=-2))
    with np.errstate(divide="ignore"):
        g = reg * (np.log(np.asarray(b, dtype=np.float64)) - lse)
    return np.where(np.isfinite(g), g, 0.0).astype(dtype)


def host_float(x: Any, name: str) -> np.ndarray:
    """A host float array in optkern's dtype policy (not copied when already fine)."""
    arr = as_array(x, name)
    return arr.astype(compute_dtype(arr.dtype, name), copy=False)
