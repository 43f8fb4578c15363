"""Argument checks of optkern.linalg shared by its CPU and CUDA paths."""

from __future__ import annotations

from typing import Any

import numpy as np

from optkern import _arrays
from optkern._validation import broadcast_batch, describe, fail, is_gpu_array

NAMES = ("lower", "diag", "upper", "rhs")  # tridiagonal_solve's operands, in order
MAX_BATCH_DIMS = 8  # kMaxBatchDims in cpp/include/optkern/linalg.hpp


def result_shape(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> tuple[int, ...]:
    for shape, name in ((a_shape, "a"), (b_shape, "b")):
        if len(shape) < 2:
            fail(name, "an array with at least 2 dimensions", f"shape {shape}")
    if a_shape[-1] != b_shape[-2]:
        fail("b", f"{a_shape[-1]} rows to match the columns of a {a_shape}", f"shape {b_shape}")
    batch = a_shape[:-2]
    if b_shape[:-2] != batch:
        batch = broadcast_batch([(a_shape[:-2], "a"), (b_shape[:-2], "b")])
    return batch + (a_shape[-2], b_shape[-1])


def check_out(out: Any, shape: tuple[int, ...], dtype: np.dtype, gpu: bool) -> None:
    if gpu != is_gpu_array(out) or not hasattr(out, "shape"):
        kind = "a GPU array" if gpu else "a NumPy array"
        fail("out", f"{kind} of shape {shape} and dtype {dtype}", describe(out))
    out_dtype = np.dtype(str(out.dtype).replace("torch.", ""))
    if tuple(out.shape) != shape or out_dtype != dtype:
        fail("out", f"shape {shape} and dtype {dtype}", describe(out))


def system_layout(arrays: list[Any]) -> tuple[list[Any], tuple[int, ...], int]:
    """Check the shapes of (lower, diag, upper, rhs); widen diagonals of length n − 1 to n.
    Returns the arrays, the broadcast batch shape and n."""
    n = arrays[1].shape[-1]
    if arrays[3].shape[-1] != n:
        fail("rhs", f"length {n} along the last axis like diag", f"shape {tuple(arrays[3].shape)}")
    out = list(arrays)
    for i in (0, 2):
        length = out[i].shape[-1]
        if length == n - 1 and n > 0:
            pad = [(0, 0)] * (out[i].ndim - 1) + [(1, 0) if i == 0 else (0, 1)]
            out[i] = pad_last(out[i], pad)
        elif length != n:
            fail(NAMES[i], f"length {n} or {n - 1} along the last axis (diag has {n})",
                 f"shape {tuple(out[i].shape)}")
    batch = broadcast_batch([(tuple(a.shape[:-1]), name) for a, name in zip(out, NAMES)])
    return out, batch, n



def pad_last(a: Any, pad: list[tuple[int, int]]) -> Any:
    """Zero-pad the last axis of a host or GPU array by one entry (before or after)."""
    if isinstance(a, np.ndarray):
        return np.pad(a, pad)
    xp = _arrays.namespace(a, "diagonal")
    zero = xp.zeros(tuple(a.shape[:-1]) + (1,), dtype=a.dtype, device=_arrays.device(a))
    return xp.concat([zero, a] if pad[-1][0] else [a, zero], axis=-1)


def singular_error(count: int, first: int, batch: tuple[int, ...]) -> np.linalg.LinAlgError:
    """The error for `count` singular systems, the first at flat batch index `first`."""
    index = np.unravel_index(first, batch) if batch else ()
    return np.linalg.LinAlgError(
        f"diag: the system at batch index {tuple(int(i) for i in index)} is singular"
        + (f" ({count} singular systems)" if count > 1 else ""))
