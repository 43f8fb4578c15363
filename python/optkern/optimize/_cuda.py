"""minimize_batch on a CUDA device: native problems, one problem per GPU thread.

GPU arrays (CuPy, torch, any DLPack producer) are used in place and the result arrays are of
the same kind on the same device; NumPy starts are copied to the device and the results
back (optkern._gpu.HostStaging). Bounds (L-BFGS-B) are parsed and checked on the host by the
CPU path's rules (GPU arrays among them are copied there first) and staged to the device.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from optkern import _arrays, _backend, _gpu
from optkern._validation import as_float_array, fail, is_gpu_array
from optkern.optimize._checks import check_precision, to_settings
from optkern.optimize._result import BatchResult, batch_result
from optkern.optimize._scipy_api import parse_bounds
from optkern.optimize.problems import Problem

_OUTPUTS = (("x", None, 2), ("f", None, 1), ("g", None, 2), ("nit", np.int64, 1),
            ("nfev", np.int64, 1), ("status", np.int32, 1))


def _shapes(batch: int, n: int) -> list[tuple[str, tuple[int, ...], Any]]:
    return [(name, (batch, n) if ndim == 2 else (batch,), kind) for name, kind, ndim in _OUTPUTS]


def _check_shape(problem: Problem, shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) != 2:
        fail("x0", "a 2-dimensional array (B, n)", f"shape {shape}")
    if shape[1] != problem.n:
        fail("x0", f"shape (B, {problem.n}) for {problem!r}", f"shape {shape}")
    return int(shape[0]), int(shape[1])


def _on_host(value: Any) -> Any:
    return _arrays.to_numpy(value) if is_gpu_array(value) else value


def _box(bounds: Any, batch: int, n: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray] | None:
    """(lower, upper) of shape (batch, n) in x0's dtype, checked as on the CPU; None for no
    bounds (every bound infinite)."""
    if bounds is None:
        return None
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):
        bounds = SimpleNamespace(lb=_on_host(bounds.lb), ub=_on_host(bounds.ub))
    else:
        bounds = _on_host(bounds)
    box = parse_bounds(bounds, n, dtype, batch=batch)
    if box is None:
        return None
    return np.ascontiguousarray(box[0]), np.ascontiguousarray(box[1])


def _launch(problem: Problem, opts: dict, dtype: np.dtype, pointers: dict[str, int],
            batch: int, n: int, stream: int) -> None:
    opts = check_precision(opts, dtype)  # the kernel runs in x0's dtype, as on the CPU
    _backend._cuda.optimize.minimize_problem_batch(
        dtype.char, problem.kind, problem.parameter, to_settings(opts), pointers["x0"],
        pointers.get("lower", 0), pointers.get("upper", 0), pointers["x"], pointers["f"],
        pointers["g"], pointers["nit"], pointers["nfev"], pointers["status"], batch, n, stream)


def minimize_batch(problem: Problem, x0: Any, opts: dict, bounds: Any = None) -> BatchResult:
    if is_gpu_array(x0):
        return _on_gpu_arrays(problem, x0, opts, bounds)
    return _from_host(problem, x0, opts, bounds)


def _on_gpu_arrays(problem: Problem, x0: Any, opts: dict, bounds: Any) -> BatchResult:
    x0 = _gpu.as_device_float(x0, "x0")
    view = _gpu.dlpack_view(x0, "x0")
    batch, n = _check_shape(problem, view.shape)
    dtype = view.dtype
    if view.strides != (n, 1) and batch > 0:  # the kernel reads rows of a C-contiguous x0
        x0 = _arrays.contiguous(x0)
    _arrays.check_finite(x0, "x0")
    box = _box(bounds, batch, n, dtype)
    stream = _gpu.current_stream(x0)
    outputs = {name: _gpu.empty_like_kind(x0, shape, np.dtype(kind or dtype))
               for name, shape, kind in _shapes(batch, n)}
    views = _gpu.device_views([(x0, "x0")] + [(a, name) for name, a in outputs.items()], stream)
    pointers = dict(zip(["x0", *outputs], (v.ptr for v in views)))
    if box is None:
        _launch(problem, opts, dtype, pointers, batch, n, stream)
    else:  # the bounds are staged on x0's stream (freed once the run is over)
        with _gpu.HostStaging(stream) as staging:
            pointers["lower"], pointers["upper"] = (staging.upload(a) for a in box)
            _launch(problem, opts, dtype, pointers, batch, n, stream)
    status, nit, nfev = (_arrays.to_numpy(outputs[k]) for k in ("status", "nit", "nfev"))
    return batch_result(outputs["x"], status, outputs["f"], outputs["g"], nit, nfev,
                        np.zeros(batch, dtype=np.int64))


def _from_host(problem: Problem, x0: Any, opts: dict, bounds: Any) -> BatchResult:
    x0 = as_float_array(x0, "x0", ndim=2)
    batch, n = _check_shape(problem, x0.shape)
    dtype = x0.dtype
    box = _box(bounds, batch, n, dtype)
    results = {name: np.empty(shape, dtype=kind or dtype) for name, shape, kind in
               _shapes(batch, n)}
    with _gpu.HostStaging() as staging:
        pointers = {"x0": staging.upload(x0)}
        if box is not None:
            pointers["lower"], pointers["upper"] = (staging.upload(a) for a in box)
        for name, host in results.items():
            pointers[name] = staging.alloc(host.nbytes)
        _launch(problem, opts, dtype, pointers, batch, n, staging.stream)
        for name, host in results.items():
            if host.size:
                staging.download(pointers[name], host)
    return batch_result(results["x"], results["status"], results["f"], results["g"],
                        results["nit"], results["nfev"], np.zeros(batch, dtype=np.int64))
