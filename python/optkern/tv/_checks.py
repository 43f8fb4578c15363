"""Argument checks of optkern.tv shared by its CPU and CUDA paths: the signals, and lam as one
value per signal or one weight per edge."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optkern._validation import (
    as_array,
    as_float_array,
    compute_dtype,
    describe,
    fail,
    is_gpu_array,
    result_dtype,
)

METHODS = ("exact", "irls")


def shape_of(a: Any) -> tuple[int, ...]:
    return tuple(int(e) for e in (a.shape if is_gpu_array(a) else np.shape(a)))


def is_edge_weights(lam: Any, x_shape: tuple[int, ...]) -> bool:
    """Whether lam holds one weight per edge (shape (..., n − 1), the leading axes
    broadcasting to x's batch shape) rather than one value per signal. A shape that fits both
    readings is rejected (ValueError), never guessed; where both mean the same (n = 2) it is
    read per signal."""
    if type(lam) in (float, int) or isinstance(lam, (np.floating, np.integer)):
        return False
    shape, batch, n = shape_of(lam), tuple(x_shape[:-1]), x_shape[-1]
    if len(shape) == 0 or n < 2 or shape[-1] != n - 1:
        return False
    try:
        per_edge = np.broadcast_shapes(shape[:-1], batch) == batch
    except ValueError:
        per_edge = False
    if not per_edge:
        return False
    try:
        lambda_shape(lam, batch)
    except ValueError:
        return True
    if n == 2:
        return False  # one edge: a weight per edge is a value per signal
    edge_form = (1,) * max(len(batch), 1) + (n - 1,)
    fail("lam", f"a shape that reads one way only: its shape {shape} fits both one value per "
         f"signal (batch shape {batch}) and one weight per edge (n - 1 = {n - 1}); pass "
         f"lam[..., None] for one value per signal, or shape {edge_form} for weights shared by "
         "all signals", f"shape {shape}")


def edge_weight_rows(lam: Any, x_shape: tuple[int, ...]) -> np.ndarray:
    """Per-edge lam as the kernels take it: float64 (1, n − 1) (shared by all signals) or
    (batch, n − 1), checked finite and >= 0."""
    batch, n = tuple(x_shape[:-1]), x_shape[-1]
    lam = lambda_values(lam)
    if math.prod(lam.shape[:-1]) == 1:
        return np.ascontiguousarray(lam.reshape(1, n - 1))
    full = np.broadcast_to(lam, batch + (n - 1,))
    return np.ascontiguousarray(full.reshape(math.prod(batch), n - 1))


def lambda_values(lam: Any) -> np.ndarray:
    """lam as a float64 array, checked finite and >= 0 (the message names lam)."""
    lam = as_array(lam, "lam")
    if lam.dtype.kind == "c":
        compute_dtype(lam.dtype, "lam")  # names the argument
    lam = lam.astype(np.float64, copy=False)
    if not np.isfinite(lam).all() or (lam < 0).any():
        bad = lam[~(np.isfinite(lam) & (lam >= 0))].ravel()[0]
        fail("lam", "finite values >= 0", repr(float(bad)))
    return lam


def signal_pair(y: Any, grad_y: Any) -> tuple[np.ndarray, np.ndarray]:
    """y and grad_y of a vjp as finite host arrays of their common dtype and one shape."""
    y_arr, g_arr = as_array(y, "y"), as_array(grad_y, "grad_y")
    dtype = result_dtype((y_arr.dtype, "y"), (g_arr.dtype, "grad_y"))
    y_arr = finite_signals(y_arr, "y", dtype)
    g_arr = finite_signals(g_arr, "grad_y", dtype)
    if g_arr.shape != y_arr.shape:
        fail("grad_y", f"the shape of y {y_arr.shape}", f"shape {g_arr.shape}")
    return y_arr, g_arr


def vjp_inputs(y: Any, grad_y: Any, lam: Any) -> tuple[np.ndarray, np.ndarray,
                                                        tuple[int, ...]]:
    """The host arrays of denoise_vjp, checked: y and grad_y in their common dtype, and the
    shape of lam (whose values are checked as denoise checks them)."""
    y_arr, g_arr = signal_pair(y, grad_y)
    lambda_rows(lam, y_arr.shape[:-1])
    return y_arr, g_arr, lambda_shape(lam, y_arr.shape[:-1])


def finite_signals(x: Any, name: str, dtype: Any = None) -> np.ndarray:
    """as_float_array(x, name, dtype, min_ndim=1), with the NaN/Inf check done by a sum first:
    a finite sum proves every term finite without a boolean temporary (an overflowing sum of
    finite values falls through to the exact check)."""
    if (type(x) is np.ndarray and x.dtype.char in "fd" and x.dtype.isnative and x.ndim >= 1
            and x.flags.c_contiguous
            and (dtype is None or x.dtype == dtype)):
        arr = x  # the common case, as the kernels take it
    else:
        arr = as_float_array(x, name, dtype, min_ndim=1, finite=False)
    with np.errstate(over="ignore", invalid="ignore"):
        total = arr.sum()
    if not np.isfinite(total) and not np.isfinite(arr).all():
        fail(name, "finite values", "NaN or Inf")
    return arr


def default_rtol(rtol: float | None, dtype: np.dtype) -> float:
    return 8 * float(np.finfo(dtype).eps) if rtol is None else rtol


def lambda_shape(lam: Any, batch: tuple[int, ...]) -> tuple[int, ...]:
    """Check lam's shape against the batch shape of x; returns it."""
    shape = tuple(np.shape(lam)) if not is_gpu_array(lam) else tuple(lam.shape)
    if len(shape) == len(batch) + 1 and shape[-1:] == (1,):
        shape_core = shape[:-1]  # the keepdims form x.shape[:-1] + (1,)
    else:
        shape_core = shape
    try:
        fits = np.broadcast_shapes(shape_core, batch) == tuple(batch)
    except ValueError:
        fits = False
    if not fits:
        fail("lam", f"a scalar or a shape that broadcasts to x's batch shape {tuple(batch)}",
             f"shape {shape}")
    return shape


def lambda_rows(lam: Any, batch: tuple[int, ...]) -> np.ndarray:
    """lam as the kernels take it: a float64 array of one value, or one per signal."""
    if isinstance(lam, (bool, np.bool_)) or getattr(lam, "dtype", None) == np.bool_:
        fail("lam", "finite values >= 0 (numbers, not booleans)", describe(lam))
    if type(lam) in (float, int) or isinstance(lam, (np.floating, np.integer)):
        try:
            value = float(lam)
        except OverflowError:  # 10**400
            value = math.inf if lam > 0 else -math.inf
        if not 0 <= value < math.inf:
            fail("lam", "finite values >= 0", repr(value))
        return np.array([value])
    shape = lambda_shape(lam, batch)
    lam = lambda_values(lam)
    if lam.size == 1:
        return np.ascontiguousarray(lam.reshape(1))
    core = lam.reshape(shape[:-1]) if len(shape) == len(batch) + 1 else lam
    return np.ascontiguousarray(np.broadcast_to(core, batch).reshape(-1))


def sum_to_shape(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum per-signal values (batch shape) over the axes lam was broadcast along."""
    if len(shape) == values.ndim + 1:  # keepdims form of lam
        return sum_to_shape(values, shape[:-1]).reshape(shape)
    lead = values.ndim - len(shape)
    out = values.sum(axis=tuple(range(lead))) if lead else values
    axes = tuple(i for i, extent in enumerate(shape) if extent == 1 and out.shape[i] != 1)
    if axes:
        out = out.sum(axis=axes, keepdims=True)
    return out.reshape(shape)


def checked_lambda(lam: Any, batch: tuple[int, ...]) -> None:
    """The checks of lambda_rows (shape against the batch, values), without broadcasting lam
    to one value per signal."""
    shape = lambda_shape(lam, batch)
    core = shape[:-1] if len(shape) == len(batch) + 1 and shape[-1:] == (1,) else shape
    lambda_rows(lam, core)
