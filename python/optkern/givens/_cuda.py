"""factorize(method="l1", device="cuda"): the engine with its loop on the GPU.

GPU arrays (CuPy, torch, any DLPack producer) are read in place on their library's current
stream; NumPy arrays are uploaded first. The checks (finite, square, orthogonal) run on the
device with the array's own library where it is CuPy or torch, on a host copy otherwise.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from optkern import _arrays, _backend, _gpu
from optkern._validation import fail, is_gpu_array
from optkern.givens import _checks
from optkern.givens._driver import GivensStep, run_to_stop
from optkern.givens._sequence import GivensSequence

__all__ = ["factorize_l1"]


def factorize_l1(U: Any, n_factors: Any, callback: Callable[[GivensStep], Any] | None,
                 progress: bool, check: bool, tol: float | None = None) -> GivensSequence:
    cuda = _backend._cuda.givens
    if is_gpu_array(U):
        U = _gpu.as_device_float(U, "U")
        view = _gpu.dlpack_view(U, "U")
        d = _shape(view.shape)
        _check_contiguous(view)
        _check_device_values(U, view, check)
        n = _checks.factor_count(n_factors, d, tol, "l1")
        stream = _gpu.current_stream(U)
        view = _gpu.device_views([(U, "U")], stream)[0]
        engine = _engine(cuda, view.dtype, view.ptr, d, stream)
        del view  # the engine has its own copy
        # the signed permutation (and tol) are worked out on a host copy of U: O(d^2) bytes
        host = _to_host(U).astype(np.dtype(_dtype_of(U)), copy=False)
        return run_to_stop(engine, host, n, "givens l1 (cuda)", callback, progress, tol)
    u = _checks.square_matrix(U, "U")
    d = _shape(u.shape)
    if check:
        _checks.check_orthogonal(u, "U")
    n = _checks.factor_count(n_factors, d, tol, "l1")
    with _gpu.HostStaging() as staging:
        engine = _engine(cuda, u.dtype, staging.upload(u), d, staging.stream)
    return run_to_stop(engine, u, n, "givens l1 (cuda)", callback, progress, tol)


def _engine(cuda: Any, dtype: np.dtype, ptr: int, d: int, stream: int) -> Any:
    suffix = "32" if np.dtype(dtype) == np.float32 else "64"
    return getattr(cuda, "GivensL1DescentCuda" + suffix)(int(ptr), int(d), int(stream))


def _shape(shape: tuple) -> int:
    if len(shape) != 2 or shape[0] != shape[1]:
        fail("U", "a square matrix", f"shape {tuple(shape)}")
    if shape[0] < 2:
        fail("U", "a matrix of size at least 2 x 2", f"shape {tuple(shape)}")
    limit = int(_backend._cuda.givens.MAX_DIM)
    if shape[0] > limit:
        fail("U", f"at most {limit} rows on CUDA (use device='cpu')", f"shape {tuple(shape)}")
    return int(shape[0])


def _check_contiguous(view: _gpu.DeviceView) -> None:
    d = view.shape[0]
    if view.strides != (d, 1):
        fail("U", "a C-contiguous GPU array (call .contiguous() or cupy.ascontiguousarray)",
             f"strides {view.strides}")


def _dtype_of(x: Any) -> str:
    return str(x.dtype).replace("torch.", "")


def _check_device_values(U: Any, view: _gpu.DeviceView, check: bool) -> None:
    """U finite and (with `check`) orthogonal, reduced on its device by its own library
    (optkern._arrays); a bare DLPack producer is checked on a host copy."""
    d = view.shape[0]
    xp = _arrays.namespace_or_none(U)
    if xp is None:
        host = _to_host(U)
        if not np.isfinite(host).all():
            fail("U", "finite values", "NaN or Inf")
        if check:
            _checks.check_orthogonal(host, "U")
        return
    _arrays.check_finite(U, "U")
    if check:
        u = xp.astype(U, xp.float64)
        eye = xp.eye(d, dtype=xp.float64, device=_arrays.device(U))
        error = float(xp.max(xp.abs(xp.matmul(xp.permute_dims(u, (1, 0)), u) - eye)))
        tol = _checks.tolerance(view.dtype, d)
        if not error <= tol:
            fail("U", f"an orthogonal matrix (max |U^T U - I| <= {tol:.2g}; pass check=False "
                      f"to skip this test)", f"max |U^T U - I| = {error:.3g}")


def _to_host(U: Any) -> np.ndarray:
    if _arrays.namespace_or_none(U) is not None:
        return _arrays.to_numpy(U)
    try:  # a bare DLPack producer
        import cupy

        with cupy.cuda.Device(_gpu.dlpack_view(U, "U").device_id):
            return cupy.asnumpy(cupy.from_dlpack(U))
    except ImportError as exc:
        fail("U", "a CuPy array or a torch tensor (or CuPy installed)", type(U).__name__)
        raise AssertionError from exc  # unreachable
