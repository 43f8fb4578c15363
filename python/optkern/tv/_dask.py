"""optkern.tv on dask arrays: lam as a batch operand (one value per signal, or one weight per
edge) and the gradient of lam summed back to its shape; the generic machinery is
optkern._dask's."""

from __future__ import annotations

import functools
import sys
from typing import Any, Callable

import numpy as np

from optkern._dask import (
    Operand,
    apply,
    as_dask,
    check_device_option,
    is_dask,
    merge_core_chunks,
    reject,
    sum_to_shape,
)
from optkern._validation import fail


def _lam_operand(lam: Any, x: Operand, name: str = "lam") -> Operand | None:
    """lam as a batch operand: None for a Python or NumPy scalar (passed as an option);
    per signal (core 0) when it has fewer dimensions than x; aligned with x (core 1: the
    keepdims form (..., 1), or one weight per edge) when it has as many."""
    if np.ndim(lam) == 0 and not is_dask(lam):
        return None
    arr = as_dask(lam, name, 0)
    batch = x.loop_shape
    if arr.ndim == x.value.ndim:
        shape, core = arr.shape[:-1], 1
        arr = merge_core_chunks(arr, name, 1)
    else:
        shape, core = arr.shape, 0
    try:
        fits = np.broadcast_shapes(shape, batch) == tuple(batch)
    except ValueError:
        fits = False
    if not fits:
        fail(name, f"a scalar or a shape that broadcasts to x's batch shape {tuple(batch)}",
             f"shape {arr.shape}")
    return Operand(arr, name, core)


def denoise(function: Callable[..., Any], x: Any, lam: Any, *, stream: Any = None,
            **options: Any) -> Any:
    """optkern.tv.denoise (`function`) over a dask batch of signals."""
    reject(stream=(stream, None))
    check_device_option(options)
    xo = Operand(as_dask(x, "x", 1), "x", 1)
    lo = _lam_operand(lam, xo)
    if lo is None:
        return apply(function, [xo], {**options, "lam": lam})
    return apply(function, [xo, lo], options)


def _per_signal_lam(arrays: dict, loop: tuple[int, ...], options: dict) -> dict:
    """lam broadcast to the block's batch (and its own last axis where it has one), so that
    the vjp returns one grad_lam per signal; summed over the broadcast axes afterwards."""
    y = arrays["y"]
    lam: Any = arrays.get("lam", options.get("lam_value"))
    lam = np.asarray(lam) if not hasattr(lam, "shape") else lam
    xp = np if isinstance(lam, np.ndarray) else sys.modules["cupy"]
    tail = tuple(lam.shape[-1:]) if options.get("lam_aligned") else ()
    out = dict(arrays)
    out["lam"] = xp.ascontiguousarray(xp.broadcast_to(lam, tuple(y.shape[:-1]) + tail))
    return out


def _without_layout(function: Callable[..., Any], **kwargs: Any) -> Any:
    kwargs.pop("lam_value", None)
    kwargs.pop("lam_aligned", None)
    return function(**kwargs)


def denoise_vjp(function: Callable[..., Any], y: Any, grad_y: Any, lam: Any, *,
                stream: Any = None, **options: Any) -> tuple[Any, Any]:
    """optkern.tv.denoise_vjp (`function`) over a dask batch of signals."""
    reject(stream=(stream, None))
    check_device_option(options)
    yo = Operand(as_dask(y, "y", 1), "y", 1)
    go = Operand(as_dask(grad_y, "grad_y", 1), "grad_y", 1)
    if go.value.shape != yo.value.shape:
        fail("grad_y", f"the shape of y {yo.value.shape}", f"shape {go.value.shape}")
    lo = _lam_operand(lam, yo)
    if lo is None:
        options = {**options, "lam_value": lam}
        ops = [yo, go]
        lam_shape: tuple[int, ...] = ()
    else:
        options = {**options, "lam_aligned": lo.core == 1}
        ops = [yo, go, lo]
        lam_shape = tuple(lo.value.shape)
    grad_x, per_signal = apply(functools.partial(_without_layout, function), ops, options,
                               prepare=_per_signal_lam)
    return grad_x, sum_to_shape(per_signal, lam_shape)


