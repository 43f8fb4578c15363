"""factorize(method="l1", device="cuda"): the engine with its loop on the GPU.

GPU arrays (CuPy, torch, any DLPack producer) are read in place on their library's current
stream; NumPy arrays are uploaded first. The checks (finite, square, orthogonal) run on the
device with the array's own library where it is CuPy or torch, on a host copy otherwise.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from optkern import _backend, _gpu
from optkern._validation import fail, is_gpu_array
from optkern.givens import _checks
from optkern.givens._driver import GivensStep, run_to_stop
from optkern.givens._sequence import GivensSequence

__all__ = ["factorize_l1"]


def factorize_l1(U: Any, n_factors: Any, callback: Optional[Callable[[GivensStep], Any]],
                 progress: bool, check: bool, tol: Optional[float] = None) -> GivensSequence:
    cuda = _backend._cuda
    if is_gpu_array(U):
        U = _gpu.as_device_float(U, "U")
        view = _gpu.dlpack_view(U, "U")
        d = _shape(view.shape)
        _check_contiguous(view)
        _check_device_values(U, view, check)
        n = _checks.factor_count(n_factors, d)
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
    n = _checks.factor_count(n_factors, d)
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
    limit = int(_backend._cuda.GIVENS_MAX_DIM)
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
    d = view.shape[0]
    library = _gpu.library_of(U)
    if library == "torch":
        import torch

        finite = bool(torch.isfinite(U).all().item())
        if finite and check:
            u = U.double()
            error = float((u.T @ u - torch.eye(d, dtype=u.dtype, device=u.device)).abs().max())
    elif library == "cupy":
        import cupy

        finite = bool(cupy.isfinite(U).all())
        if finite and check:
            u = U.astype(cupy.float64)
            error = float(cupy.abs(u.T @ u - cupy.eye(d)).max())
    else:
        host = _to_host(U)
        finite = bool(np.isfinite(host).all())
        if finite and check:
            _checks.check_orthogonal(host, "U")
            return
    if not finite:
        fail("U", "finite values", "NaN or Inf")
    if check:
        tol = _checks.tolerance(view.dtype, d)
        if not error <= tol:
            fail("U", f"an orthogonal matrix (max |U^T U - I| <= {tol:.2g}; pass check=False "
                      f"to skip this test)", f"max |U^T U - I| = {error:.3g}")


def _to_host(U: Any) -> np.ndarray:
    if _gpu.library_of(U) == "torch":
        return U.detach().cpu().numpy()
    try:
        import cupy

        with cupy.cuda.Device(_gpu.dlpack_view(U, "U").device_id):
            return cupy.asnumpy(cupy.from_dlpack(U))
    except ImportError:
        fail("U", "a CuPy array or a torch tensor (or CuPy installed)", type(U).__name__)
        raise AssertionError  # unreachable
