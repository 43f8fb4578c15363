"""The compiled modules, what they were built with, and whether CUDA can be used here."""

from __future__ import annotations

import functools
import importlib.util
import os
from typing import Any

from optkern import _core

# _cuda is built only when nvcc was found. Its stubs (optkern/_cuda/*.pyi, a directory without
# __init__.py) are there in every build: without the extension module, that directory is found
# as a namespace package, with no origin, which is not the module.
_cuda_spec = importlib.util.find_spec("optkern._cuda")
# None: the module is not there at all (a build without nvcc); otherwise why it failed to load.
_CUDA_IMPORT_ERROR: str | None = None
if _cuda_spec is not None and _cuda_spec.origin is not None:  # pragma: no cover - the build
    try:  # linked to the static CUDA runtime, so it imports even on a machine without a driver
        from optkern import _cuda
    except ImportError as exc:
        _cuda = None
        _CUDA_IMPORT_ERROR = str(exc)
else:  # pragma: no cover - depends on the build
    _cuda = None

__version__: str = _core.build_info()["version"]


def cuda_compiled() -> bool:
    """True when this build of optkern contains the CUDA kernels."""
    return _cuda is not None


@functools.cache
def _cuda_devices() -> tuple[dict[str, Any], ...]:
    if _cuda is None:
        return ()
    return tuple(_cuda.devices())  # empty without a driver or a device


def cuda_available() -> bool:
    """True when optkern was built with CUDA and a CUDA device is visible.

    On a machine without a GPU or an NVIDIA driver this is simply False.

    Returns
    -------
    bool
        Whether ``device="cuda"`` can be used. The devices are looked up once per process.

    Examples
    --------
    >>> import optkern
    >>> isinstance(optkern.cuda_available(), bool)
    True
    """
    return len(_cuda_devices()) > 0


def cuda_unavailable_reason() -> str:
    """Why cuda_available() is False, for error messages."""
    if _cuda is None:
        if _CUDA_IMPORT_ERROR is None:
            return "this build of optkern has no CUDA support (it was built without nvcc)"
        return f"optkern's CUDA module failed to load ({_CUDA_IMPORT_ERROR})"
    if not _cuda_devices():
        return f"no CUDA device is visible ({_cuda.driver_status()})"
    return "CUDA is available"


def build_info() -> dict[str, Any]:
    """What this build of optkern was compiled with and what it sees at run time.

    Keys: ``version``, ``compiler``, ``eigen_version``, ``simd`` (the SIMD level in use:
    ``"baseline"``, ``"avx2"`` or ``"avx512"``, chosen at import for this CPU, or forced lower
    by the environment variable ``OPTKERN_SIMD``), ``simd_compiled`` (the levels this build
    carries), ``simd_flags`` (the instruction sets of the level in use), ``simd_bytes``,
    ``openmp``, ``num_threads``, ``omp_num_threads`` (the environment
    variable, or None), ``cuda_compiled``, ``cuda_runtime_version``, ``cuda_devices`` (name,
    compute capability, memory and SM count of each visible device) and ``cuda_available``.

    Returns
    -------
    dict
        A new dict on every call (changing it changes nothing).

    Examples
    --------
    >>> import optkern
    >>> info = optkern.build_info()
    >>> info["version"] == optkern.__version__
    True
    """
    info = dict(_core.build_info())
    info["num_threads"] = _core.num_threads()
    info["omp_num_threads"] = os.environ.get("OMP_NUM_THREADS")
    info["cuda_compiled"] = cuda_compiled()
    info["cuda_runtime_version"] = _cuda.runtime_version() if _cuda is not None else None
    info["cuda_devices"] = [dict(d) for d in _cuda_devices()]
    info["cuda_available"] = cuda_available()
    return info
