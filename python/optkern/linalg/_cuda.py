"""The CUDA path of optkern.linalg. GPU arrays (CuPy, torch, any DLPack producer on a CUDA
device) are used in place on the producer's current stream and the results are arrays of the
same kind; NumPy inputs are checked on the host as on the CPU, copied to the device and back
(optkern._gpu.HostStaging). Singular tridiagonal systems of GPU arrays give NaN rows (finding
them would synchronise)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optkern import _arrays, _backend, _gpu
from optkern._validation import as_array, as_float_array, describe, fail, is_gpu_array, result_dtype
from optkern.linalg import _checks
from optkern.linalg._cpu import batch_layout, element_strides, flat_rows

UINT8 = np.dtype(np.uint8)


def _descriptor(ptr: int, shape: tuple[int, ...], strides: tuple[int, ...],
                batch_strides: tuple[int, ...]) -> tuple:
    """(pointer, rows, cols, row stride, column stride, batch strides), strides in elements."""
    return (int(ptr), int(shape[-2]), int(shape[-1]), int(strides[-2]), int(strides[-1]),
            tuple(int(s) for s in batch_strides))


def _bmm_launch(dtype: np.dtype, shape: tuple[int, ...], ops: list[tuple[int, tuple, tuple]],
                stream: int) -> None:
    """Run the CUDA kernel on device operands given as (pointer, shape, element strides)."""
    extents, batch_strides = batch_layout(shape[:-2], [(s, st) for _, s, st in ops])
    # More merged dimensions than the kernel takes (operands broadcast along alternating
    # dimensions): one launch per index of the leading ones, each on offset pointers.
    outer = max(0, len(extents) - _checks.MAX_BATCH_DIMS)
    itemsize = np.dtype(dtype).itemsize
    for index in np.ndindex(*extents[:outer]):
        descs = [_descriptor(p + itemsize * sum(i * b for i, b in zip(index, bs)), s, st,
                             bs[outer:]) for (p, s, st), bs in zip(ops, batch_strides)]
        _backend._cuda.linalg.bmm(dtype.char, list(extents[outer:]), *descs, stream)


def bmm_gpu_arrays(a: Any, b: Any, out: Any) -> Any:
    for x, name in ((a, "a"), (b, "b")):
        if not is_gpu_array(x):
            fail(name, "a GPU array like the other operand", describe(x))
    a = _gpu.as_device_float(a, "a")
    b = _gpu.as_device_float(b, "b")
    view_a, view_b = _gpu.dlpack_view(a, "a"), _gpu.dlpack_view(b, "b")
    dtype = result_dtype((view_a.dtype, "a"), (view_b.dtype, "b"))
    a = _gpu.as_device_float(a, "a", dtype)
    b = _gpu.as_device_float(b, "b", dtype)
    shape = _checks.result_shape(view_a.shape, view_b.shape)
    stream = _gpu.current_stream(a)
    target = out
    if out is None:
        target = _gpu.empty_like_kind(a, shape, dtype)
    else:
        _checks.check_out(out, shape, dtype, gpu=True)
        vo, va, vb = _gpu.device_views([(out, "out"), (a, "a"), (b, "b")], stream)
        if _gpu.overlaps(vo, va) or _gpu.overlaps(vo, vb):
            target = _gpu.empty_like_kind(a, shape, dtype)
    va, vb, vc = _gpu.device_views([(a, "a"), (b, "b"), (target, "out")], stream)
    _bmm_launch(dtype, shape, [(v.ptr, v.shape, v.strides) for v in (va, vb, vc)], stream)
    if out is not None and target is not out:
        out[...] = target
        return out
    return target


def bmm_host_on_gpu(a: Any, b: Any, out: Any) -> np.ndarray:
    a = as_array(a, "a")
    b = as_array(b, "b")
    shape = _checks.result_shape(a.shape, b.shape)
    dtype = result_dtype((a.dtype, "a"), (b.dtype, "b"))
    a = np.ascontiguousarray(a, dtype)
    b = np.ascontiguousarray(b, dtype)
    if out is not None:
        _checks.check_out(out, shape, dtype, gpu=False)
        if not out.flags.writeable:
            fail("out", "a writeable array", "a read-only array")
    result = np.empty(shape, dtype)
    with _gpu.HostStaging() as staging:
        ops = []
        for x in (a, b):
            ops.append((staging.upload(x), x.shape, element_strides(x)))
        ptr_c = staging.alloc(result.nbytes)
        ops.append((ptr_c, shape, element_strides(result)))
        _bmm_launch(dtype, shape, ops, staging.stream)
        staging.download(ptr_c, result)
    if out is not None:
        out[...] = result
        return out
    return result


def tridiagonal_solve(lower: Any, diag: Any, upper: Any, rhs: Any) -> Any:
    operands = (lower, diag, upper, rhs)
    on_gpu = [is_gpu_array(a) for a in operands]
    if not any(on_gpu):
        return _host_tridiagonal(operands)
    if not all(on_gpu):
        name = _checks.NAMES[on_gpu.index(False)]
        fail(name, "a GPU array like the other operands", describe(operands[on_gpu.index(False)]))
    views = [_gpu.dlpack_view(a, name) for a, name in zip(operands, _checks.NAMES)]
    dtype = result_dtype(*((v.dtype, name) for v, name in zip(views, _checks.NAMES)))
    arrays = [_arrays.contiguous(_gpu.as_device_float(a, name, dtype))
              for a, name in zip(operands, _checks.NAMES)]
    for a, name in zip(arrays, _checks.NAMES):
        _arrays.check_finite(a, name)  # the NaN policy for GPU input (optkern/_arrays.py)
    arrays, batch, n = _checks.system_layout(arrays)
    count = math.prod(batch)
    rows = []
    for a in arrays:
        if math.prod(a.shape[:-1]) == 1:
            rows.append((_arrays.contiguous(a.reshape((1, n))), 0))
        else:
            full = _arrays.contiguous(_arrays.broadcast_to(a, batch + (n,)))
            rows.append((full.reshape((count, n)), n))
    x = _gpu.empty_like_kind(arrays[3], batch + (n,), dtype)
    stream = _gpu.current_stream(x)
    cuda = _backend._cuda.linalg
    nbytes = cuda.tridiagonal_solve_scratch_bytes(dtype.char, count, n)
    scratch = _gpu.empty_like_kind(x, (max(nbytes, 1),), UINT8)
    ptrs = _gpu.device_views([(a, name) for (a, _), name in zip(rows, _checks.NAMES)]
                             + [(x, "x"), (scratch, "scratch")], stream)
    cuda.tridiagonal_solve(dtype.char, count, n,
                           [(p.ptr, stride) for p, (_, stride) in zip(ptrs[:4], rows)],
                           ptrs[4].ptr, 0, ptrs[5].ptr, nbytes, stream)
    return x


def _host_tridiagonal(operands: tuple[Any, ...]) -> np.ndarray:
    arrays = [as_array(a, name) for a, name in zip(operands, _checks.NAMES)]
    dtype = result_dtype(*((a.dtype, name) for a, name in zip(arrays, _checks.NAMES)))
    arrays = [as_float_array(a, name, dtype, min_ndim=1) for a, name in zip(arrays, _checks.NAMES)]
    arrays, batch, n = _checks.system_layout(arrays)
    count = math.prod(batch)
    rows = [flat_rows(a, batch, n) for a in arrays]
    x = np.empty((count, n), dtype)
    status = np.zeros(2, np.int64)
    cuda = _backend._cuda.linalg
    with _gpu.HostStaging() as staging:
        ptrs = [(staging.upload(r), 0 if r.shape[0] == 1 and count != 1 else n) for r in rows]
        px, ps = staging.alloc(x.nbytes), staging.alloc(status.nbytes)
        nbytes = cuda.tridiagonal_solve_scratch_bytes(dtype.char, count, n)
        cuda.tridiagonal_solve(dtype.char, count, n, ptrs, px, ps, staging.alloc(nbytes), nbytes,
                               staging.stream)
        staging.download(px, x)
        staging.download(ps, status)
    if status[0]:
        raise _checks.singular_error(int(status[0]), int(status[1]), batch)
    return x.reshape(batch + (n,))

