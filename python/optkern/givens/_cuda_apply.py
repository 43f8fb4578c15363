"""GivensSequence.apply(device="cuda"): the factors run layer by layer on the GPU.

NumPy operands are uploaded, rotated and downloaded (the signed permutation is applied on the
host); CuPy arrays and torch CUDA tensors are rotated on their device, in a copy made by their
own library (the permutation too), on that library's current stream.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from optkern import _arrays, _backend, _gpu
from optkern._validation import describe, fail, result_dtype

if TYPE_CHECKING:
    from optkern.givens._sequence import GivensSequence

__all__ = ["apply_cuda"]


def _layered(seq: GivensSequence, dtype: np.dtype) -> tuple[np.ndarray, ...]:
    """i, j, cos, sin in layer order (dtype), and the layer offsets."""
    layers = seq.layers()
    order = np.concatenate(layers) if layers else np.zeros(0, np.int64)
    starts = np.zeros(len(layers) + 1, np.int64)
    starts[1:] = np.cumsum([len(x) for x in layers])
    theta = seq.theta[order].astype(dtype)
    return (np.ascontiguousarray(seq.i[order]), np.ascontiguousarray(seq.j[order]),
            np.cos(theta), np.sin(theta), starts)


def _rows_ok(shape: tuple[int, ...], d: int) -> bool:
    return len(shape) >= 1 and (shape[0] if len(shape) == 1 else shape[-2]) == d


def apply_cuda(seq: GivensSequence, X: Any, transpose: bool) -> Any:
    d = seq.dim
    if _arrays.namespace_or_none(X) is not None and not isinstance(X, np.ndarray):
        return _apply_gpu_array(seq, X, transpose)
    if hasattr(X, "__dlpack_device__") or hasattr(X, "__cuda_array_interface__"):
        fail("X", "a NumPy array, a CuPy array or a torch CUDA tensor", describe(X))
    from optkern._validation import as_array, as_float_array

    X = as_array(X, "X")
    if not _rows_ok(X.shape, d):
        fail("X", f"shape ({d},) or (..., {d}, m)", f"shape {X.shape}")
    dtype = result_dtype((X.dtype, "X"), (seq.dtype, "theta"))
    x = as_float_array(X, "X", dtype, finite=False)
    shape = x.shape
    work = (x.reshape(1, d, 1) if x.ndim == 1 else x.reshape((math.prod(shape[:-2]),) + shape[-2:]))
    if seq.permutation is not None and not transpose:
        inv = seq._inverse_permutation
        work = np.take(work, inv, axis=1) * seq.signs[inv][:, None].astype(dtype)
    work = np.ascontiguousarray(work, dtype)
    i, j, cos, sin, starts = _layered(seq, dtype)
    with _gpu.HostStaging() as staging:
        ptrs = [staging.upload(a) for a in (i, j, cos, sin, work)]
        if work.size and len(seq):
            _backend._cuda.givens.apply_layers(dtype.char, *ptrs[:4], starts, ptrs[4],
                                               work.shape[0], d, work.shape[2], bool(transpose),
                                               staging.stream)
        result = np.empty_like(work)
        staging.download(ptrs[4], result)
    if seq.permutation is not None and transpose:
        result = np.take(result, seq.permutation, axis=1) * seq.signs[:, None].astype(dtype)
    return result.reshape(shape)


def _apply_gpu_array(seq: GivensSequence, X: Any, transpose: bool) -> Any:
    d = seq.dim
    view = _gpu.dlpack_view(X, "X")
    if not _rows_ok(tuple(view.shape), d):
        fail("X", f"shape ({d},) or (..., {d}, m)", f"shape {tuple(view.shape)}")
    dtype = result_dtype((view.dtype, "X"), (seq.dtype, "theta"))
    X = _gpu.as_device_float(X, "X", dtype)
    shape = tuple(view.shape)
    batch = math.prod(shape[:-2]) if len(shape) > 1 else 1
    cols = shape[-1] if len(shape) > 1 else 1
    i, j, cos, sin, starts = _layered(seq, dtype)
    xp = _arrays.namespace(X, "X")

    def put(a: np.ndarray) -> Any:
        return _arrays.asarray_like(a, X)

    work = _arrays.contiguous(xp.asarray(xp.reshape(X, (batch, d, cols)), copy=True))
    if seq.permutation is not None:
        signs = put(seq.signs.astype(dtype))
        if not transpose:
            inv = put(seq._inverse_permutation)
            work = _arrays.contiguous(xp.take(work, inv, axis=1)
                                      * xp.take(signs, inv, axis=0)[:, None])
    factors = [put(a) for a in (i, j, cos, sin)]
    stream = _gpu.current_stream(work)
    views = _gpu.device_views([(f, "factors") for f in factors] + [(work, "X")], stream)
    if batch and cols and len(seq):
        _backend._cuda.givens.apply_layers(dtype.char, *(v.ptr for v in views[:4]), starts,
                                           views[4].ptr, batch, d, cols, bool(transpose), stream)
    if seq.permutation is not None and transpose:
        work = xp.take(work, put(seq.permutation), axis=1) * signs[:, None]
    return xp.reshape(work, shape)
