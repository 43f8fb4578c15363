"""The CUDA path of :mod:`optkern.tv`.

Two kinds of input, as in :func:`optkern.linalg.bmm`:

* GPU arrays (CuPy, torch, any DLPack producer on a CUDA device) are used in place, on the
  producer's current stream, and results come back as arrays of the same kind. Their values
  are checked on the device as host values are (optkern._arrays: one reduction and one
  read-back per input).
* NumPy inputs are checked on the host exactly as on the CPU, copied to the device, solved,
  and copied back (:class:`optkern._gpu.HostStaging`).

Kernels take C-contiguous (batch, n) rows; scratch memory comes from the input's own library
(its memory pool) or from the staging buffers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optkern import _arrays, _backend, _gpu
from optkern._validation import describe, fail, is_gpu_array, result_dtype
from optkern.tv import _checks
from optkern.tv._cpu import weighted_vjp
from optkern.tv._result import make_result


def _mapping(name: str) -> Any:
    """How the exact solver and the backward map signals to threads: the kernels' TvMapping
    (cuda/include/optkern/cuda/tv.hpp) named "auto" (it picks), "staged" (shared-memory
    staging) or "direct" (global memory)."""
    return _backend._cuda.tv.TvMapping.__members__[name]


UINT8 = np.dtype(np.uint8)
INT64 = np.dtype(np.int64)
FLOAT64 = np.dtype(np.float64)


def gpu_rows(x: Any, name: str, dtype: np.dtype | None = None) -> tuple[Any, tuple[int, ...]]:
    """x as a C-contiguous float GPU array (dtype policy, or `dtype`), and its shape."""
    if not is_gpu_array(x):
        fail(name, "a GPU array like the other inputs", describe(x))
    x = _arrays.contiguous(_gpu.as_device_float(x, name, dtype))
    _arrays.check_finite(x, name)
    shape = tuple(int(e) for e in x.shape)
    if len(shape) < 1:
        fail(name, "an array with at least 1 dimensions", f"shape {shape}")
    return x, shape


def gpu_lambda(lam: Any, batch: tuple[int, ...], like: Any) -> tuple[Any, int]:
    """lam on the device as the kernels take it (float64, one value or one per signal) and its
    stride."""
    shape = _checks.lambda_shape(lam, batch)
    if not is_gpu_array(lam):
        rows = _checks.lambda_rows(lam, batch)  # checked on the host
        return _arrays.asarray_like(rows, like), 0 if rows.size == 1 else 1
    lam = _gpu.as_device_float(lam, "lam", FLOAT64)
    _arrays.check_finite(lam, "lam", nonnegative=True)
    if math.prod(shape) == 1:
        return _arrays.contiguous(lam.reshape((1,))), 0
    if len(shape) == len(batch) + 1:  # the keepdims form
        lam = lam.reshape(shape[:-1])
    return _arrays.contiguous(_arrays.broadcast_to(lam, batch)).reshape((math.prod(batch),)), 1


# --- denoise ----------------------------------------------------------------------------------


def denoise(x: Any, lam: Any, method: str, tol: float, max_iter: int, return_info: bool,
            mapping: str = "auto", budget: int = -1) -> Any:
    """optkern.tv.denoise on the device. mapping and budget (Condat's step budget; 0 sends
    every signal to the taut string) exist for benchmarks and tests."""
    x_shape = _checks.shape_of(x)
    if len(x_shape) >= 1 and _checks.is_edge_weights(lam, x_shape):
        return denoise_weighted(x, lam, method, return_info)
    if not is_gpu_array(x):
        if is_gpu_array(lam):
            fail("lam", "a host value or array when x is a NumPy array", describe(lam))
        return _denoise_host(x, lam, method, tol, max_iter, return_info, mapping, budget)
    x, shape = gpu_rows(x, "x")
    dtype = _gpu.dlpack_view(x, "x").dtype
    batch, n = shape[:-1], shape[-1]
    count = math.prod(batch)
    stream = _gpu.current_stream(x)
    lam_dev, lam_stride = gpu_lambda(lam, batch, x)
    y = _gpu.empty_like_kind(x, shape, dtype)
    cuda = _backend._cuda.tv
    if method == "exact":
        nbytes = cuda.denoise_scratch_bytes(count, n)
        scratch = _gpu.empty_like_kind(x, (max(nbytes, 1),), UINT8)
        ptrs = _gpu.device_views([(x, "x"), (lam_dev, "lam"), (y, "y"), (scratch, "scratch")],
                                 stream)
        cuda.denoise(dtype.char, count, n, ptrs[0].ptr, ptrs[1].ptr, lam_stride, ptrs[2].ptr,
                     ptrs[3].ptr, nbytes, stream, _mapping(mapping), budget)
        return y if not return_info else _direct_info(x, y, batch, method, tol)
    nbytes = cuda.denoise_irls_scratch_bytes(count, n)
    scratch = _gpu.empty_like_kind(x, (max(nbytes, 1),), UINT8)
    nit = _gpu.empty_like_kind(x, batch, INT64)
    change = _gpu.empty_like_kind(x, batch, FLOAT64)
    ptrs = _gpu.device_views([(x, "x"), (lam_dev, "lam"), (y, "y"), (nit, "nit"),
                              (change, "change"), (scratch, "scratch")], stream)
    cuda.denoise_irls(dtype.char, count, n, ptrs[0].ptr, ptrs[1].ptr, lam_stride, tol, max_iter,
                      ptrs[2].ptr, ptrs[3].ptr, ptrs[4].ptr, ptrs[5].ptr, nbytes, stream)
    return make_result(y, nit, change, method, tol) if return_info else y


def _denoise_host(x: Any, lam: Any, method: str, tol: float, max_iter: int, return_info: bool,
                  mapping: str, budget: int) -> Any:
    x = _checks.finite_signals(x, "x")
    batch, n = x.shape[:-1], x.shape[-1]
    count = math.prod(batch)
    lam_rows = _checks.lambda_rows(lam, batch)
    lam_stride = 0 if lam_rows.size == 1 else 1
    y = np.empty(x.shape, x.dtype)
    nit, change = np.zeros(count, np.int64), np.zeros(count)
    cuda = _backend._cuda.tv
    with _gpu.HostStaging() as staging:
        px, pl = staging.upload(x), staging.upload(lam_rows)
        py = staging.alloc(y.nbytes)
        if method == "exact":
            nbytes = cuda.denoise_scratch_bytes(count, n)
            cuda.denoise(x.dtype.char, count, n, px, pl, lam_stride, py,
                         staging.alloc(nbytes), nbytes, staging.stream, _mapping(mapping),
                         budget)
        else:
            nbytes = cuda.denoise_irls_scratch_bytes(count, n)
            pn, pc = staging.alloc(nit.nbytes), staging.alloc(change.nbytes)
            cuda.denoise_irls(x.dtype.char, count, n, px, pl, lam_stride, tol, max_iter, py,
                              pn, pc, staging.alloc(nbytes), nbytes, staging.stream)
            staging.download(pn, nit)
            staging.download(pc, change)
        staging.download(py, y)
    if not return_info:
        return y
    return make_result(y, nit.reshape(batch), change.reshape(batch), method, tol)


# --- the backward -----------------------------------------------------------------------------


def denoise_vjp(y: Any, grad_y: Any, lam: Any, rtol: float | None,
                mapping: str = "auto") -> tuple[Any, Any]:
    y_shape = _checks.shape_of(y)
    if len(y_shape) >= 1 and _checks.is_edge_weights(lam, y_shape):
        if not (is_gpu_array(y) or is_gpu_array(grad_y)):
            return weighted_vjp(y, grad_y, lam, rtol)  # host data: the CPU's
        return denoise_vjp_weighted(y, grad_y, lam, rtol)
    if not (is_gpu_array(y) or is_gpu_array(grad_y)):
        if is_gpu_array(lam):
            fail("lam", "a host value or array when y is a NumPy array", describe(lam))
        return _vjp_host(y, grad_y, lam, rtol, mapping)
    y, grad_y, shape, dtype = _gpu_signal_pair(y, grad_y)
    batch, n = shape[:-1], shape[-1]
    count = math.prod(batch)
    lam_shape = _checks.lambda_shape(lam, batch)
    if not is_gpu_array(lam):
        _checks.lambda_rows(lam, batch)  # checks the values as denoise does
    stream = _gpu.current_stream(y)
    grad_x = _gpu.empty_like_kind(y, shape, dtype)
    per_signal = _gpu.empty_like_kind(y, batch, FLOAT64)
    ptrs = _gpu.device_views([(y, "y"), (grad_y, "grad_y"), (grad_x, "grad_x"),
                              (per_signal, "grad_lam")], stream)
    rtol = _checks.default_rtol(rtol, dtype)
    _backend._cuda.tv.denoise_vjp(dtype.char, count, n, ptrs[0].ptr, ptrs[1].ptr, rtol,
                                  ptrs[2].ptr, ptrs[3].ptr, stream, _mapping(mapping))
    grad_lam = _reduce_gpu(per_signal, lam_shape)
    return grad_x, _gpu.as_device_float(grad_lam, "grad_lam", dtype)


def _reduce_gpu(per_signal: Any, shape: tuple[int, ...]) -> Any:
    """_checks.sum_to_shape (optkern.tv._checks) with the array's own library."""
    if len(shape) == per_signal.ndim + 1:
        return _reduce_gpu(per_signal, shape[:-1]).reshape(shape)
    lead = per_signal.ndim - len(shape)
    out = _arrays.sum_axes(per_signal, tuple(range(lead)), keepdims=False)
    axes = tuple(i for i, e in enumerate(shape) if e == 1 and out.shape[i] != 1)
    return _arrays.sum_axes(out, axes, keepdims=True).reshape(shape)


def _vjp_host(y: Any, grad_y: Any, lam: Any, rtol: float | None,
              mapping: str) -> tuple[np.ndarray, Any]:
    y_arr, g_arr, lam_shape = _checks.vjp_inputs(y, grad_y, lam)
    dtype, batch, n = y_arr.dtype, y_arr.shape[:-1], y_arr.shape[-1]
    count = math.prod(batch)
    grad_x = np.empty(y_arr.shape, dtype)
    per_signal = np.empty(count)
    with _gpu.HostStaging() as staging:
        py, pg = staging.upload(y_arr), staging.upload(g_arr)
        pgx, pgl = staging.alloc(grad_x.nbytes), staging.alloc(per_signal.nbytes)
        _backend._cuda.tv.denoise_vjp(dtype.char, count, n, py, pg,
                                      _checks.default_rtol(rtol, dtype), pgx, pgl,
                                      staging.stream, _mapping(mapping))
        staging.download(pgx, grad_x)
        staging.download(pgl, per_signal)
    grad_lam = _checks.sum_to_shape(per_signal.reshape(batch), lam_shape).astype(dtype)
    return grad_x, grad_lam[()] if grad_lam.ndim == 0 else grad_lam


# --- one weight per edge ----------------------------------------------------------------------


def _edge_rows_device(lam: Any, batch: tuple[int, ...], n: int, like: Any) -> tuple[Any, int]:
    """Per-edge lam on the device as the kernels take it: float64 (1, n - 1) shared (stride 0)
    or (count, n - 1) (stride n - 1). Host weights are checked first."""
    if not is_gpu_array(lam):
        rows = _checks.edge_weight_rows(lam, batch + (n,))
        return _arrays.asarray_like(rows, like), 0 if rows.shape[0] == 1 else n - 1
    lam = _gpu.as_device_float(lam, "lam", FLOAT64)
    _arrays.check_finite(lam, "lam", nonnegative=True)
    shape = tuple(int(e) for e in lam.shape)
    if math.prod(shape[:-1]) == 1:
        return _arrays.contiguous(lam.reshape((1, n - 1))), 0
    full = _arrays.contiguous(_arrays.broadcast_to(lam, batch + (n - 1,)))
    return full.reshape((math.prod(batch), n - 1)), n - 1


def denoise_weighted(x: Any, lam: Any, method: str, return_info: bool) -> Any:
    """optkern.tv.denoise with one weight per edge on the device (the exact solver)."""
    if method != "exact":
        fail("method", "'exact' with one weight per edge on CUDA (IRLS with weights runs on "
             "the CPU)", repr(method))
    if not is_gpu_array(x):
        if is_gpu_array(lam):
            fail("lam", "a host value or array when x is a NumPy array", describe(lam))
        x = _checks.finite_signals(x, "x")
        batch, n = x.shape[:-1], x.shape[-1]
        count = math.prod(batch)
        w = _checks.edge_weight_rows(lam, x.shape)
        y = np.empty(x.shape, x.dtype)
        cuda = _backend._cuda.tv
        with _gpu.HostStaging() as staging:
            px, pw = staging.upload(x), staging.upload(w)
            py = staging.alloc(y.nbytes)
            nbytes = cuda.denoise_weighted_scratch_bytes(count, n)
            cuda.denoise_weighted(x.dtype.char, count, n, px, pw,
                                  0 if w.shape[0] == 1 else n - 1, py,
                                  staging.alloc(nbytes), nbytes, staging.stream)
            staging.download(py, y)
        if not return_info:
            return y
        return make_result(y, np.zeros(batch, np.int64), np.zeros(batch), method, 0.0)
    x, shape = gpu_rows(x, "x")
    dtype = _gpu.dlpack_view(x, "x").dtype
    batch, n = shape[:-1], shape[-1]
    count = math.prod(batch)
    stream = _gpu.current_stream(x)
    w, stride = _edge_rows_device(lam, batch, n, x)
    y = _gpu.empty_like_kind(x, shape, dtype)
    cuda = _backend._cuda.tv
    nbytes = cuda.denoise_weighted_scratch_bytes(count, n)
    scratch = _gpu.empty_like_kind(x, (max(nbytes, 1),), UINT8)
    ptrs = _gpu.device_views([(x, "x"), (w, "lam"), (y, "y"), (scratch, "scratch")], stream)
    cuda.denoise_weighted(dtype.char, count, n, ptrs[0].ptr, ptrs[1].ptr, stride, ptrs[2].ptr,
                          ptrs[3].ptr, nbytes, stream)
    return y if not return_info else _direct_info(x, y, batch, method, 0.0)


def _direct_info(x: Any, y: Any, batch: tuple[int, ...], method: str, tol: float) -> Any:
    """The DenoiseResult of a direct (non-iterative) solve: no iterations, no change."""
    nit = _gpu.empty_like_kind(x, batch, INT64)
    change = _gpu.empty_like_kind(x, batch, FLOAT64)
    nit[...] = 0
    change[...] = 0
    return make_result(y, nit, change, method, tol)


def _gpu_signal_pair(y: Any, grad_y: Any) -> tuple[Any, Any, tuple[int, ...], Any]:
    """y and grad_y of a vjp, both GPU arrays, as rows of their common dtype and one shape:
    (y rows, grad_y rows, the shape, the dtype)."""
    y_view = _gpu.dlpack_view(y, "y") if is_gpu_array(y) else None
    g_view = _gpu.dlpack_view(grad_y, "grad_y") if is_gpu_array(grad_y) else None
    if y_view is None or g_view is None:
        fail("grad_y" if g_view is None else "y", "a GPU array like the other input",
             describe(grad_y if g_view is None else y))
    dtype = result_dtype((y_view.dtype, "y"), (g_view.dtype, "grad_y"))
    y, shape = gpu_rows(y, "y", dtype)
    grad_y, g_shape = gpu_rows(grad_y, "grad_y", dtype)
    if g_shape != shape:
        fail("grad_y", f"the shape of y {shape}", f"shape {g_shape}")
    return y, grad_y, shape, dtype


def denoise_vjp_weighted(y: Any, grad_y: Any, lam: Any, rtol: float | None) -> tuple[Any, Any]:
    """optkern.tv.denoise_vjp with one weight per edge, for GPU arrays y and grad_y."""
    y, grad_y, shape, dtype = _gpu_signal_pair(y, grad_y)
    batch, n = shape[:-1], shape[-1]
    count = math.prod(batch)
    lam_shape = tuple(int(e) for e in (lam.shape if is_gpu_array(lam) else np.shape(lam)))
    if not is_gpu_array(lam):
            _checks.edge_weight_rows(lam, shape)  # checks the values
    stream = _gpu.current_stream(y)
    grad_x = _gpu.empty_like_kind(y, shape, dtype)
    per_edge = _gpu.empty_like_kind(y, batch + (n - 1,), FLOAT64)
    ptrs = _gpu.device_views([(y, "y"), (grad_y, "grad_y"), (grad_x, "grad_x"),
                              (per_edge, "grad_lam")], stream)
    rtol = _checks.default_rtol(rtol, dtype)
    _backend._cuda.tv.denoise_vjp_weighted(dtype.char, count, n, ptrs[0].ptr, ptrs[1].ptr, rtol,
                                           ptrs[2].ptr, ptrs[3].ptr, stream)
    lead = per_edge.ndim - len(lam_shape)
    out = _arrays.sum_axes(per_edge, tuple(range(lead)), keepdims=False)
    axes = tuple(i for i, e in enumerate(lam_shape) if e == 1 and out.shape[i] != 1)
    out = _arrays.sum_axes(out, axes, keepdims=True).reshape(lam_shape)
    return grad_x, _gpu.as_device_float(out, "grad_lam", dtype)
