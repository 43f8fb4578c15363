"""The CPU path of optkern.linalg: strided batched products and tridiagonal solves through
the C++ core (optkern._core.linalg)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optkern import _backend
from optkern._validation import as_array, as_float_array, fail, result_dtype
from optkern.linalg._checks import (
    MAX_BATCH_DIMS,
    NAMES,
    check_out,
    result_shape,
    singular_error,
    system_layout,
)


def bmm_numpy(a: np.ndarray, b: np.ndarray, out: Any) -> np.ndarray:
    """bmm of two NumPy arrays; same-dtype, same-batch float operands go straight to the kernel
    (no broadcasting or conversion to plan)."""
    if (out is None and a.dtype == b.dtype and a.dtype.char in "fd" and a.dtype.isnative
            and a.ndim == b.ndim
            and 2 <= a.ndim <= MAX_BATCH_DIMS + 2 and a.shape[:-2] == b.shape[:-2]
            and a.shape[-1] == b.shape[-2] and a.flags.aligned and b.flags.aligned):
        c = np.empty(a.shape[:-1] + b.shape[-1:], a.dtype)
        _backend._core.linalg.bmm_same_batch(a, b, c)
        return c
    return bmm(a, b, out)


def _merge_batch_dims(
    extents: tuple[int, ...], strides: list[tuple[int, ...]]
) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """Merge adjacent batch dimensions that every operand walks as one (fewer dims, same
    elements), dropping dimensions of extent 1."""
    dims = [(e, [s[d] for s in strides]) for d, e in enumerate(extents) if e != 1]
    merged: list[tuple[int, list[int]]] = []
    for extent, ss in dims:
        if merged:
            last_extent, last = merged[-1]
            if all(prev == cur * extent for prev, cur in zip(last, ss)):
                merged[-1] = (last_extent * extent, ss)
                continue
        merged.append((extent, ss))
    new_extents = tuple(e for e, _ in merged)
    new_strides = [tuple(ss[i] for _, ss in merged) for i in range(len(strides))]
    return new_extents, new_strides


def element_strides(x: np.ndarray) -> tuple[int, ...] | None:
    """Strides in elements, or None where they are not whole elements. (NumPy's ALIGNED flag
    holds when the data pointer and every stride are multiples of the item's alignment,
    which for float32 and float64 is their size.)"""
    if not x.flags.aligned:
        return None
    size = x.itemsize
    return tuple(s // size for s in x.strides)


def kernel_array(x: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, tuple[int, ...]]:
    """x in `dtype` with its element strides; copied only if its strides are not whole
    elements (views of records) or its data is misaligned."""
    x = x.astype(dtype, copy=False)
    strides = element_strides(x)
    if strides is None:
        x = x.copy(order="C")  # not ascontiguousarray: it keeps a misaligned (1, 1) view
        strides = element_strides(x)
    return x, strides


def batch_layout(
    batch: tuple[int, ...], operands: list[tuple[tuple[int, ...], tuple[int, ...]]]
) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """Batch extents and per-operand batch strides for operands given as (shape, element
    strides), broadcast to `batch` and merged into as few dimensions as possible."""
    return _merge_batch_dims(
        batch, [broadcast_strides(shape, strides, batch) for shape, strides in operands]
    )


def broadcast_strides(shape: tuple[int, ...], strides: tuple[int, ...],
                       batch: tuple[int, ...]) -> tuple[int, ...]:
    """Batch strides of an operand broadcast to `batch` (0 where it repeats)."""
    own = shape[:-2]
    pad = len(batch) - len(own)
    return tuple(
        0 if d < pad or own[d - pad] == 1 else strides[d - pad] for d in range(len(batch))
    )


def bmm(a: Any, b: Any, out: Any) -> np.ndarray:
    a = as_array(a, "a")
    b = as_array(b, "b")
    shape = result_shape(a.shape, b.shape)
    dtype = a.dtype
    if dtype != b.dtype or dtype.kind != "f" or dtype.itemsize not in (4, 8) or not dtype.isnative:
        dtype = result_dtype((a.dtype, "a"), (b.dtype, "b"))
    a, a_strides = kernel_array(a, dtype)
    b, b_strides = kernel_array(b, dtype)
    if out is not None:
        check_out(out, shape, dtype, gpu=False)
        if not out.flags.writeable:
            fail("out", "a writeable array", "a read-only array")
    target = out
    if (out is None or element_strides(out) is None or np.may_share_memory(out, a)
            or np.may_share_memory(out, b)):
        target = np.empty(shape, dtype)

    extents, strides = batch_layout(
        shape[:-2], [(a.shape, a_strides), (b.shape, b_strides),
                     (target.shape, element_strides(target))]
    )
    if len(extents) > MAX_BATCH_DIMS:  # scattered views with many batch dimensions
        a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
        target = np.empty(shape, dtype)
        extents, strides = batch_layout(
            shape[:-2], [(x.shape, element_strides(x)) for x in (a, b, target)]
        )
    if len(extents) > MAX_BATCH_DIMS:
        # Still too many: operands broadcast along alternating dimensions. The kernel takes
        # the last dimensions, a loop here the leading ones (no broadcast copy is made).
        _bmm_outer_loop(a, b, target, len(shape) - 2 - MAX_BATCH_DIMS)
    else:
        _backend._core.linalg.bmm(a, b, target, list(extents), *(list(s) for s in strides))
    if out is not None and target is not out:
        out[...] = target
        return out
    return target


def _bmm_outer_loop(a: np.ndarray, b: np.ndarray, target: np.ndarray, outer: int) -> None:
    """target = a @ b with the first `outer` batch dimensions (of target's shape) looped over
    here and the rest handed to the kernel; a and b broadcast as in NumPy."""
    lead = target.shape[:outer]
    a = np.broadcast_to(a, target.shape[:-2] + a.shape[-2:])  # views with zero strides
    b = np.broadcast_to(b, target.shape[:-2] + b.shape[-2:])
    for index in np.ndindex(*lead):
        bmm(a[index], b[index], target[index])



def tridiagonal_solve(lower: Any, diag: Any, upper: Any, rhs: Any) -> np.ndarray:
    arrays = [as_array(a, name) for a, name in zip((lower, diag, upper, rhs), NAMES)]
    dtype = result_dtype(*((a.dtype, name) for a, name in zip(arrays, NAMES)))
    arrays = [as_float_array(a, name, dtype, min_ndim=1) for a, name in zip(arrays, NAMES)]
    arrays, batch, n = system_layout(arrays)
    x = np.empty((math.prod(batch), n), dtype)
    rows = [flat_rows(a, batch, n) for a in arrays]
    count, first = _backend._core.linalg.tridiagonal_solve(*rows, x)
    if count:
        raise singular_error(count, first, batch)
    return x.reshape(batch + (n,))


def flat_rows(a: np.ndarray, batch: tuple[int, ...], n: int) -> np.ndarray:
    """A C-contiguous (1, n) row when one system's operand is shared by all, else (B, n)."""
    if int(np.prod(a.shape[:-1], dtype=np.int64)) == 1:
        return np.ascontiguousarray(a.reshape(1, n))
    if tuple(a.shape[:-1]) != batch:
        a = np.broadcast_to(a, batch + (n,))
    return np.ascontiguousarray(a).reshape(math.prod(batch), n)
