"""The CPU path of optkern.tv: the C++ core's taut-string, IRLS, weighted and 2-D solvers and
their backward passes (optkern._core.tv), on C-contiguous (signals, n) rows."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optkern import _backend
from optkern._validation import (
    as_array,
    as_float_array,
    check_number,
    fail,
    overflow_scale,
    result_dtype,
)
from optkern.tv._checks import (
    checked_lambda,
    default_rtol,
    edge_weight_rows,
    finite_signals,
    is_edge_weights,
    lambda_rows,
    lambda_shape,
    shape_of,
    signal_pair,
    sum_to_shape,
    vjp_inputs,
)
from optkern.tv._result import Denoise2DResult, DenoiseResult, make_result


def denoise(x: Any, lam: Any, method: str, tol: float, max_iter: int, return_info: bool) -> Any:
    if (method == "exact" and not return_info and type(x) is np.ndarray and x.ndim >= 1
            and x.dtype.char in "fd" and x.dtype.isnative and x.flags.c_contiguous and x.size
            and type(lam) in (float, int) and 0 <= lam <= 1.7976931348623157e308):
        # The common call, as the kernel takes it: a short signal's solve takes a few µs, and
        # the general path's checks would cost more. The kernel checks the signals for NaN and
        # Inf itself (as it solves: no pass of its own) and raises finite_signals' ValueError.
        rows = x.reshape(-1, x.shape[-1])
        y = np.empty_like(rows)
        _backend._core.tv.denoise(rows, np.array([float(lam)]), y)
        return y.reshape(x.shape)
    if (method == "exact" and not return_info and type(x) is np.ndarray and x.ndim == 1
            and x.dtype.char in "fd" and x.dtype.isnative and x.flags.c_contiguous and x.size > 2
            and type(lam) is np.ndarray and lam.shape == (x.size - 1,) and lam.dtype.char == "d"
            and lam.dtype.isnative and lam.flags.c_contiguous):
        # One signal with one weight per edge (unambiguous for n > 2), as the kernel takes it;
        # the kernel checks x for NaN and Inf and the weights as it solves.
        y = np.empty_like(x)
        _backend._core.tv.denoise_weighted(x.reshape(1, -1), lam.reshape(1, -1),
                                           y.reshape(1, -1))
        return y
    x = finite_signals(x, "x")
    batch = x.shape[:-1]
    if x.size == 0:  # no work: no memory per signal either (shape (2**40, 0) is fine)
        return empty_denoise(x, lam, method, tol, return_info)
    if is_edge_weights(lam, x.shape):  # one weight per edge
        weights = edge_weight_rows(lam, x.shape)
        kernels = (_backend._core.tv.denoise_weighted, _backend._core.tv.denoise_irls_weighted)
    else:  # one lam per signal
        weights = lambda_rows(lam, batch)
        kernels = (_backend._core.tv.denoise, _backend._core.tv.denoise_irls)
    rows = x.reshape(math.prod(batch), x.shape[-1])
    y = np.empty_like(rows)
    count = rows.shape[0]
    if method == "exact":
        kernels[0](rows, weights, y)
        nit, change = np.zeros(count, np.int64), np.zeros(count)
    else:
        nit, change = np.empty(count, np.int64), np.empty(count)
        kernels[1](rows, weights, tol, max_iter, y, nit, change)
    y = y.reshape(x.shape)
    if not return_info:
        return y
    return make_result(y, nit.reshape(batch), change.reshape(batch), method, tol)

def denoise_vjp(y: Any, grad_y: Any, lam: Any, rtol: float | None) -> tuple[Any, Any]:
    if np.ndim(y) >= 1 and is_edge_weights(lam, shape_of(y)):
        return weighted_vjp(y, grad_y, lam, rtol)
    y_arr, g_arr, lam_shape = vjp_inputs(y, grad_y, lam)
    dtype, batch = y_arr.dtype, y_arr.shape[:-1]
    if y_arr.size == 0:  # no work, no memory per signal: every gradient is zero
        grad_lam = np.zeros(lam_shape, dtype)
        return np.empty(y_arr.shape, dtype), grad_lam[()] if grad_lam.ndim == 0 else grad_lam
    rows = y_arr.reshape(math.prod(batch), y_arr.shape[-1])
    grad_x = np.empty_like(rows)
    per_signal = np.empty(rows.shape[0])
    scale = overflow_scale(g_arr)  # the vjp is linear in grad_y
    if scale != 1:
        g_arr = g_arr / scale
    _backend._core.tv.denoise_vjp(rows, g_arr.reshape(rows.shape), default_rtol(rtol, dtype),
                                  grad_x, per_signal)
    grad_lam = sum_to_shape(per_signal.reshape(batch), lam_shape)
    with np.errstate(over="ignore"):  # only where the true value is out of range
        grad_x *= scale
        grad_lam = (grad_lam * scale).astype(dtype)
    return grad_x.reshape(y_arr.shape), grad_lam[()] if grad_lam.ndim == 0 else grad_lam

def weighted_vjp(y: Any, grad_y: Any, lam: Any, rtol: float | None) -> tuple[Any, Any]:
    """denoise_vjp for one weight per edge: grad_lam has lam's shape (summed over the axes
    lam was broadcast along)."""
    y_arr, g_arr = signal_pair(y, grad_y)
    dtype = y_arr.dtype
    edge_weight_rows(lam, y_arr.shape)  # checks the values
    batch, n = y_arr.shape[:-1], y_arr.shape[-1]
    rows = y_arr.reshape(math.prod(batch), n)
    grad_x = np.empty_like(rows)
    per_edge = np.empty((rows.shape[0], n - 1))
    scale = overflow_scale(g_arr)
    if scale != 1:
        g_arr = g_arr / scale
    _backend._core.tv.denoise_vjp_weighted(rows, g_arr.reshape(rows.shape),
                                           default_rtol(rtol, dtype), grad_x, per_edge)
    lam_shape = shape_of(lam)
    per_edge = per_edge.reshape(batch + (n - 1,))
    lead = per_edge.ndim - len(lam_shape)
    grad_lam = per_edge.sum(axis=tuple(range(lead))) if lead else per_edge
    axes = tuple(i for i, e in enumerate(lam_shape) if e == 1 and grad_lam.shape[i] != 1)
    if axes:
        grad_lam = grad_lam.sum(axis=axes, keepdims=True)
    with np.errstate(over="ignore"):
        grad_x *= scale
        grad_lam = (grad_lam.reshape(lam_shape) * scale).astype(dtype)
    return grad_x.reshape(y_arr.shape), grad_lam


def denoise_2d(img: Any, lam: Any, isotropic: bool, tol: float, max_iter: int,
               return_info: bool) -> Any:
    x = as_float_array(img, "img", None, min_ndim=2, finite=False)
    with np.errstate(over="ignore", invalid="ignore"):
        if not np.isfinite(x.sum()) and not np.isfinite(x).all():
            fail("img", "finite values", "NaN or Inf")
    batch, (h, w) = x.shape[:-2], x.shape[-2:]
    lam_rows = lambda_rows(lam, batch)
    count = math.prod(batch)
    images = np.ascontiguousarray(x.reshape(count, h, w))
    y = np.empty_like(images)
    nit, gap = np.empty(count, np.int64), np.empty(count)
    _backend._core.tv.denoise_2d(images, lam_rows, bool(isotropic), tol, max_iter, y, nit, gap)
    y = y.reshape(x.shape)
    if not return_info:
        return y
    return Denoise2DResult(y=y, nit=nit.reshape(batch), gap=gap.reshape(batch),
                           converged=gap.reshape(batch) <= tol, isotropic=bool(isotropic))

def denoise_2d_vjp(y: Any, grad_y: Any, lam: Any, rtol: float | None) -> tuple[Any, Any]:
    y_arr, g_arr = as_array(y, "y"), as_array(grad_y, "grad_y")
    dtype = result_dtype((y_arr.dtype, "y"), (g_arr.dtype, "grad_y"))
    y_arr = as_float_array(y_arr, "y", dtype, min_ndim=2)
    g_arr = as_float_array(g_arr, "grad_y", dtype, min_ndim=2)
    if g_arr.shape != y_arr.shape:
        fail("grad_y", f"the shape of y {y_arr.shape}", f"shape {g_arr.shape}")
    if rtol is None:
        rtol = 1e-5 if dtype == np.float32 else 1e-7
    rtol = check_number(rtol, "rtol", low=0.0)
    batch, (h, w) = y_arr.shape[:-2], y_arr.shape[-2:]
    lambda_rows(lam, batch)  # checks lam's values and shape
    lam_shape = lambda_shape(lam, batch)
    count = math.prod(batch)
    grad_x = np.empty((count, h, w), dtype)
    per_image = np.empty(count)
    _backend._core.tv.denoise_2d_vjp(np.ascontiguousarray(y_arr.reshape(count, h, w)),
                                     np.ascontiguousarray(g_arr.reshape(count, h, w)), rtol,
                                     grad_x, per_image)
    grad_lam = sum_to_shape(per_image.reshape(batch), lam_shape).astype(dtype)
    return grad_x.reshape(y_arr.shape), grad_lam[()] if grad_lam.ndim == 0 else grad_lam

def lambda_max(x: Any) -> Any:
    x = as_float_array(x, "x", np.float64, min_ndim=1)
    if x.shape[-1] == 0:  # zeros, as a read-only view: (2**40, 0) needs no memory
        return np.broadcast_to(np.float64(0.0), x.shape[:-1])[()]
    # Each signal is divided by a power of two near its largest |x_k| (exact), so that the
    # sums overflow only where the result itself does (x near 1e308 gave Inf, not 0).
    scale = np.ldexp(1.0, np.frexp(np.abs(x).max(axis=-1, keepdims=True))[1] - 1)
    x = x / scale
    z = np.cumsum(x - x.mean(axis=-1, keepdims=True), axis=-1)[..., :-1]
    with np.errstate(over="ignore"):
        return (np.abs(z).max(axis=-1, initial=0.0) * scale[..., 0])[()]

def empty_denoise(x: np.ndarray, lam: Any, method: str, tol: float,
                  return_info: bool) -> Any:
    """denoise of an empty batch or of empty signals. The per-signal info (nit 0, change 0,
    converged) is a read-only broadcast view: a batch of 2**40 empty signals costs nothing."""
    batch = x.shape[:-1]
    if is_edge_weights(lam, x.shape):  # one weight per edge: checked as the kernels take them
        edge_weight_rows(lam, x.shape)
    else:
        checked_lambda(lam, batch)
    y = np.empty(x.shape, x.dtype)
    if not return_info:
        return y
    nit = np.broadcast_to(np.int64(0), batch)
    change = np.broadcast_to(np.float64(0.0), batch)
    return DenoiseResult(y=y, nit=nit, change=change,
                         converged=np.broadcast_to(np.True_, batch), method=method)
