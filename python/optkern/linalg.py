"""Batched linear algebra: :func:`bmm`, the batched matrix product on CPU and GPU."""

from __future__ import annotations

from typing import Any

import numpy as np

from optkern import _backend, _dask, _gpu
from optkern._tridiagonal import tridiagonal_solve
from optkern._validation import (
    as_array,
    broadcast_batch,
    describe,
    fail,
    is_gpu_array,
    resolve_device,
    result_dtype,
)

__all__ = ["bmm", "tridiagonal_solve"]

_MAX_BATCH_DIMS = 8  # kMaxBatchDims in cpp/include/optkern/linalg.hpp


def bmm(a: Any, b: Any, *, device: str = "cpu", out: Any = None, stream: Any = None) -> Any:
    """Batched matrix product with the semantics of :func:`numpy.matmul` for ndim >= 2.

    Computes ``out[..., i, j] = sum_k a[..., i, k] * b[..., k, j]``. The leading (batch)
    dimensions broadcast, any strides are accepted (transposed and reversed views are read
    in place, not copied), and empty batches give empty results.

    Parameters
    ----------
    a : array_like, shape (..., m, k)
    b : array_like, shape (..., k, n)
    device : {"cpu", "cuda", "auto"}
        Where to compute. "auto" follows the data: CUDA for GPU arrays, else the CPU.
        With "cuda", NumPy inputs are copied to the GPU and the result back; CuPy arrays,
        torch CUDA tensors and other DLPack GPU arrays are used in place, and the result is
        an array of the same kind on the same device.
    out : array, optional
        Where to write the result; it must have the result's shape and dtype exactly. It may
        overlap the inputs (the result is then computed into a temporary first).
    stream : int, torch.cuda.Stream or cupy.cuda.Stream, optional
        The CUDA stream to run on (CUDA runs only; a ValueError on the CPU). By default the
        current stream of the library that made the GPU arrays, or the legacy default stream
        for NumPy input.

    Returns
    -------
    ndarray or GPU array, shape (broadcast(...), m, n)
        float32 if both inputs are float32 (or float16), float64 otherwise: the dtype of
        ``numpy.result_type(a, b)``, with integers and bools promoted to float64.

    Raises
    ------
    ValueError
        If an input has fewer than 2 dimensions, the inner dimensions differ, the batch
        shapes do not broadcast, an input is complex or not numeric, ``out`` has the wrong
        shape or dtype, or ``device="cuda"`` is asked for where CUDA is not available.

    Notes
    -----
    On the CPU, products run through register-blocked SIMD micro-kernels; the batch is split
    over ``optkern.get_num_threads()`` threads, and so is each product when the batch is too
    small to keep the threads busy. Unlike NumPy, NaN and Inf are not checked: they
    propagate as in any matrix product.

    Examples
    --------
    >>> import numpy as np, optkern
    >>> a = np.arange(24.0).reshape(2, 3, 4)
    >>> b = np.ones((4, 2))
    >>> c = optkern.linalg.bmm(a, b)              # b broadcasts over the batch
    >>> c.shape
    (2, 3, 2)
    >>> np.allclose(c, a @ b)
    True
    >>> optkern.linalg.bmm(a.astype(np.float32), b.astype(np.float32)).dtype
    dtype('float32')
    """
    if device == "cpu" and stream is None and type(a) is np.ndarray and type(b) is np.ndarray:
        if (out is None and a.dtype == b.dtype and a.dtype.char in "fd" and a.dtype.isnative
                and a.ndim == b.ndim
                and 2 <= a.ndim <= _MAX_BATCH_DIMS + 2 and a.shape[:-2] == b.shape[:-2]
                and a.shape[-1] == b.shape[-2] and a.flags.aligned and b.flags.aligned):
            # the common case, without broadcasting or conversions: straight to the kernel
            c = np.empty(a.shape[:-1] + b.shape[-1:], a.dtype)
            _backend._core.bmm_same_batch(a, b, c)
            return c
        return _bmm_cpu(a, b, out)
    if _dask.is_dask(a, b):  # dask arrays: a lazy dask result (optkern/_dask.py)
        return _dask.bmm(**locals())
    where = resolve_device(device, [(a, "a"), (b, "b"), (out, "out")], stream)
    if where == "cuda":
        with _gpu.use_stream(stream):
            if is_gpu_array(a) or is_gpu_array(b):
                return _bmm_gpu_arrays(a, b, out)
            return _bmm_host_on_gpu(a, b, out)
    return _bmm_cpu(a, b, out)


def _result_shape(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> tuple[int, ...]:
    for shape, name in ((a_shape, "a"), (b_shape, "b")):
        if len(shape) < 2:
            fail(name, "an array with at least 2 dimensions", f"shape {shape}")
    if a_shape[-1] != b_shape[-2]:
        fail("b", f"{a_shape[-1]} rows to match the columns of a {a_shape}", f"shape {b_shape}")
    batch = a_shape[:-2]
    if b_shape[:-2] != batch:
        batch = broadcast_batch([(a_shape[:-2], "a"), (b_shape[:-2], "b")])
    return batch + (a_shape[-2], b_shape[-1])


def _check_out(out: Any, shape: tuple[int, ...], dtype: np.dtype, gpu: bool) -> None:
    if gpu != is_gpu_array(out) or not hasattr(out, "shape"):
        kind = "a GPU array" if gpu else "a NumPy array"
        fail("out", f"{kind} of shape {shape} and dtype {dtype}", describe(out))
    out_dtype = np.dtype(str(out.dtype).replace("torch.", ""))
    if tuple(out.shape) != shape or out_dtype != dtype:
        fail("out", f"shape {shape} and dtype {dtype}", describe(out))


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


def _element_strides(x: np.ndarray) -> tuple[int, ...] | None:
    """Strides in elements, or None where they are not whole elements. (NumPy's ALIGNED flag
    holds when the data pointer and every stride are multiples of the item's alignment,
    which for float32 and float64 is their size.)"""
    if not x.flags.aligned:
        return None
    size = x.itemsize
    return tuple(s // size for s in x.strides)


def _kernel_array(x: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, tuple[int, ...]]:
    """x in `dtype` with its element strides; copied only if its strides are not whole
    elements (views of records) or its data is misaligned."""
    x = x.astype(dtype, copy=False)
    strides = _element_strides(x)
    if strides is None:
        x = x.copy(order="C")  # not ascontiguousarray: it keeps a misaligned (1, 1) view
        strides = _element_strides(x)
    return x, strides


def _batch_layout(
    batch: tuple[int, ...], operands: list[tuple[tuple[int, ...], tuple[int, ...]]]
) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """Batch extents and per-operand batch strides for operands given as (shape, element
    strides), broadcast to `batch` and merged into as few dimensions as possible."""
    return _merge_batch_dims(
        batch, [_broadcast_strides(shape, strides, batch) for shape, strides in operands]
    )


def _bmm_cpu(a: Any, b: Any, out: Any) -> np.ndarray:
    a = as_array(a, "a")
    b = as_array(b, "b")
    shape = _result_shape(a.shape, b.shape)
    dtype = a.dtype
    if dtype != b.dtype or dtype.kind != "f" or dtype.itemsize not in (4, 8) or not dtype.isnative:
        dtype = result_dtype((a.dtype, "a"), (b.dtype, "b"))
    a, a_strides = _kernel_array(a, dtype)
    b, b_strides = _kernel_array(b, dtype)
    if out is not None:
        _check_out(out, shape, dtype, gpu=False)
        if not out.flags.writeable:
            fail("out", "a writeable array", "a read-only array")
    target = out
    if (out is None or _element_strides(out) is None or np.may_share_memory(out, a)
            or np.may_share_memory(out, b)):
        target = np.empty(shape, dtype)

    extents, strides = _batch_layout(
        shape[:-2], [(a.shape, a_strides), (b.shape, b_strides),
                     (target.shape, _element_strides(target))]
    )
    if len(extents) > _MAX_BATCH_DIMS:  # scattered views with many batch dimensions
        a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
        target = np.empty(shape, dtype)
        extents, strides = _batch_layout(
            shape[:-2], [(x.shape, _element_strides(x)) for x in (a, b, target)]
        )
    if len(extents) > _MAX_BATCH_DIMS:
        # Still too many: operands broadcast along alternating dimensions. The kernel takes
        # the last dimensions, a loop here the leading ones (no broadcast copy is made).
        _bmm_outer_loop(a, b, target, len(shape) - 2 - _MAX_BATCH_DIMS)
    else:
        _backend._core.bmm(a, b, target, list(extents), *(list(s) for s in strides))
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
        _bmm_cpu(a[index], b[index], target[index])


def _descriptor(ptr: int, shape: tuple[int, ...], strides: tuple[int, ...],
                batch_strides: tuple[int, ...]) -> tuple:
    """(pointer, rows, cols, row stride, column stride, batch strides), strides in elements."""
    return (int(ptr), int(shape[-2]), int(shape[-1]), int(strides[-2]), int(strides[-1]),
            tuple(int(s) for s in batch_strides))


def _broadcast_strides(shape: tuple[int, ...], strides: tuple[int, ...],
                       batch: tuple[int, ...]) -> tuple[int, ...]:
    """Batch strides of an operand broadcast to `batch` (0 where it repeats)."""
    own = shape[:-2]
    pad = len(batch) - len(own)
    return tuple(
        0 if d < pad or own[d - pad] == 1 else strides[d - pad] for d in range(len(batch))
    )


def _bmm_launch(dtype: np.dtype, shape: tuple[int, ...], ops: list[tuple[int, tuple, tuple]],
                stream: int) -> None:
    """Run the CUDA kernel on device operands given as (pointer, shape, element strides)."""
    extents, batch_strides = _batch_layout(shape[:-2], [(s, st) for _, s, st in ops])
    # More merged dimensions than the kernel takes (operands broadcast along alternating
    # dimensions): one launch per index of the leading ones, each on offset pointers.
    outer = max(0, len(extents) - _MAX_BATCH_DIMS)
    itemsize = np.dtype(dtype).itemsize
    for index in np.ndindex(*extents[:outer]):
        descs = [_descriptor(p + itemsize * sum(i * b for i, b in zip(index, bs)), s, st,
                             bs[outer:]) for (p, s, st), bs in zip(ops, batch_strides)]
        _backend._cuda.bmm(dtype.char, list(extents[outer:]), *descs, stream)


def _bmm_gpu_arrays(a: Any, b: Any, out: Any) -> Any:
    for x, name in ((a, "a"), (b, "b")):
        if not is_gpu_array(x):
            fail(name, "a GPU array like the other operand", describe(x))
    a = _gpu.as_device_float(a, "a")
    b = _gpu.as_device_float(b, "b")
    view_a, view_b = _gpu.dlpack_view(a, "a"), _gpu.dlpack_view(b, "b")
    dtype = result_dtype((view_a.dtype, "a"), (view_b.dtype, "b"))
    a = _gpu.as_device_float(a, "a", dtype)
    b = _gpu.as_device_float(b, "b", dtype)
    shape = _result_shape(view_a.shape, view_b.shape)
    stream = _gpu.current_stream(a)
    target = out
    if out is None:
        target = _gpu.empty_like_kind(a, shape, dtype)
    else:
        _check_out(out, shape, dtype, gpu=True)
        vo, va, vb = _gpu.device_views([(out, "out"), (a, "a"), (b, "b")], stream)
        if _gpu.overlaps(vo, va) or _gpu.overlaps(vo, vb):
            target = _gpu.empty_like_kind(a, shape, dtype)
    va, vb, vc = _gpu.device_views([(a, "a"), (b, "b"), (target, "out")], stream)
    _bmm_launch(dtype, shape, [(v.ptr, v.shape, v.strides) for v in (va, vb, vc)], stream)
    if out is not None and target is not out:
        out[...] = target
        return out
    return target


def _bmm_host_on_gpu(a: Any, b: Any, out: Any) -> np.ndarray:
    a = as_array(a, "a")
    b = as_array(b, "b")
    shape = _result_shape(a.shape, b.shape)
    dtype = result_dtype((a.dtype, "a"), (b.dtype, "b"))
    a = np.ascontiguousarray(a, dtype)
    b = np.ascontiguousarray(b, dtype)
    if out is not None:
        _check_out(out, shape, dtype, gpu=False)
        if not out.flags.writeable:
            fail("out", "a writeable array", "a read-only array")
    result = np.empty(shape, dtype)
    with _gpu.HostStaging() as staging:
        ops = []
        for x in (a, b):
            ops.append((staging.upload(x), x.shape, _element_strides(x)))
        ptr_c = staging.alloc(result.nbytes)
        ops.append((ptr_c, shape, _element_strides(result)))
        _bmm_launch(dtype, shape, ops, staging.stream)
        staging.download(ptr_c, result)
    if out is not None:
        out[...] = result
        return out
    return result
