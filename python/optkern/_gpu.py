"""GPU arrays in and out of the CUDA kernels, without host copies.

Inputs that live on a CUDA device (CuPy arrays, torch CUDA tensors, any object with
``__dlpack__``) are read in place: their DLPack capsule gives the device pointer, shape and
strides, and the capsule is held until the kernel has been queued. Results are allocated by
the input's own library (its memory pool, its device), so they come back as the same kind.
Kernels run on the producing library's current stream, or on the ``stream=`` the caller
passed (:func:`use_stream`).

NumPy inputs with ``device="cuda"`` are copied to the device and the result back, through
:class:`HostStaging`.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from optkern import _arrays
from optkern._validation import check_stream, compute_dtype, describe, fail

_KDL_CUDA = 2
_KDL_CUDA_MANAGED = 13
_DLPACK_CODES = {0: "i", 1: "u", 2: "f", 5: "c", 6: "b"}  # kDLInt, kDLUInt, kDLFloat, ...


class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):  # the head of DLManagedTensor (DLPack 0.x ABI)
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", _DLDevice),
        ("ndim", ctypes.c_int32),
        ("dtype", _DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


_capsule_get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_get_pointer.restype = ctypes.c_void_p
_capsule_get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


@dataclass(frozen=True)
class DeviceView:
    """Where an array's data is: a device pointer with shape and element strides."""

    ptr: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]  # in elements
    dtype: np.dtype
    device_type: int
    device_id: int
    owner: Any  # keeps the producer's memory alive (the DLPack capsule)


def dlpack_view(x: Any, name: str, stream: int | None = None) -> DeviceView:
    """Read an object's DLPack capsule without taking ownership of its memory.

    The capsule stays named "dltensor", so its destructor releases the producer's reference
    when `owner` is dropped, as the DLPack protocol asks of a consumer that copies nothing.
    """
    try:
        capsule = x.__dlpack__() if stream is None else x.__dlpack__(stream=stream)
        address = _capsule_get_pointer(capsule, b"dltensor")
    except Exception as exc:
        fail(name, "an array that exports DLPack", f"{describe(x)} ({exc})")
    t = _DLTensor.from_address(address)
    if t.dtype.lanes != 1 or t.dtype.code not in _DLPACK_CODES:
        fail(name, "a real array", f"DLPack dtype code {t.dtype.code}")
    dtype = np.dtype(f"{_DLPACK_CODES[t.dtype.code]}{max(t.dtype.bits // 8, 1)}")
    if t.dtype.code == 6:
        dtype = np.dtype(bool)
    shape = tuple(int(t.shape[i]) for i in range(t.ndim))
    if t.strides:
        strides = tuple(int(t.strides[i]) for i in range(t.ndim))
    else:  # NULL strides mean C-contiguous
        strides, step = [], 1
        for extent in reversed(shape):
            strides.append(step)
            step *= extent
        strides = tuple(reversed(strides))
    return DeviceView(
        ptr=int(t.data or 0) + int(t.byte_offset),
        shape=shape,
        strides=strides,
        dtype=dtype,
        device_type=int(t.device.device_type),
        device_id=int(t.device.device_id),
        owner=capsule,
    )


def _byte_range(view: DeviceView) -> tuple[int, int]:
    low = sum(min(0, (e - 1) * s) for e, s in zip(view.shape, view.strides))
    high = sum(max(0, (e - 1) * s) for e, s in zip(view.shape, view.strides))
    size = view.dtype.itemsize
    return view.ptr + low * size, view.ptr + (high + 1) * size


def overlaps(x: DeviceView, y: DeviceView) -> bool:
    """Whether two device arrays may share memory (their address ranges intersect)."""
    if 0 in x.shape or 0 in y.shape:
        return False
    (x0, x1), (y0, y1) = _byte_range(x), _byte_range(y)
    return x0 < y1 and y0 < x1


def library_of(x: Any) -> str:
    """"torch", "cupy", "namespace" (an array-API library) or "other"."""
    module = type(x).__module__.split(".")[0]
    if module in ("torch", "cupy"):
        return module
    if hasattr(x, "__array_namespace__"):
        return "namespace"
    return "other"


# The stream= of the public call being run, if any (a context variable: per thread).
_STREAM: contextvars.ContextVar[int | None] = contextvars.ContextVar("optkern_stream",
                                                                    default=None)


@contextlib.contextmanager
def use_stream(stream: Any) -> Iterator[None]:
    """Run the CUDA work inside on a public call's ``stream=`` (None: the default)."""
    token = _STREAM.set(check_stream(stream))
    try:
        yield
    finally:
        _STREAM.reset(token)


def current_stream(x: Any) -> int:
    """The stream= of the call, else the producing library's current CUDA stream (0, the
    legacy default, for other producers)."""
    override = _STREAM.get()
    if override is not None:
        return override
    library = library_of(x)
    if library == "torch":
        import torch

        return int(torch.cuda.current_stream(x.device).cuda_stream)
    if library == "cupy":
        import cupy

        with x.device:
            return int(cupy.cuda.get_current_stream().ptr)
    return 0


def _dlpack_stream(stream: int) -> int:
    # DLPack reserves 0; the legacy default stream is passed as 1.
    return 1 if stream == 0 else stream


def as_device_float(x: Any, name: str, dtype: np.dtype | None = None) -> Any:
    """The same GPU array converted (on the device, by its own library) to the float dtype
    of optkern's dtype policy, or to `dtype`."""
    view = dlpack_view(x, name)
    target = compute_dtype(view.dtype, name) if dtype is None else np.dtype(dtype)
    if view.dtype == target:
        return x
    xp = _arrays.namespace_or_none(x)
    if xp is None:
        fail(name, f"a {target.name} array (convert it before calling)", f"dtype {view.dtype}")
    return xp.astype(x, getattr(xp, target.name))


def device_views(arrays: list[tuple[Any, str]], stream: int) -> list[DeviceView]:
    """DLPack views of GPU arrays, all on one CUDA device."""
    views = [dlpack_view(x, name, _dlpack_stream(stream)) for x, name in arrays]
    for view, (x, name) in zip(views, arrays):
        if view.device_type not in (_KDL_CUDA, _KDL_CUDA_MANAGED):
            fail(name, "an array on a CUDA device", describe(x))
        if view.device_id != views[0].device_id:
            fail(name, f"an array on CUDA device {views[0].device_id} like {arrays[0][1]}",
                 f"device {view.device_id}")
    return views


def empty_like_kind(x: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """An uninitialised GPU array of the same kind and device as `x` (optkern._arrays)."""
    xp = _arrays.namespace_or_none(x)
    if xp is not None:
        return xp.empty(tuple(shape), dtype=getattr(xp, np.dtype(dtype).name),
                        device=_arrays.device(x))
    try:  # a bare DLPack producer: answer with CuPy if it is installed
        import cupy
    except ImportError:
        fail("input", "a CuPy array, a torch tensor or an array-API array for GPU results",
             describe(x))
    with cupy.cuda.Device(dlpack_view(x, "input").device_id):
        return cupy.empty(shape, dtype=dtype)


class HostStaging:
    """Device buffers for NumPy inputs: upload, run, download, free (in that stream order)."""

    def __init__(self, stream: int | None = None):
        from optkern._backend import _cuda

        self._cuda = _cuda
        override = _STREAM.get()
        self.stream = stream if stream is not None else override if override is not None else 0
        self._buffers: list[int] = []

    def __enter__(self) -> HostStaging:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._cuda.stream_synchronize(self.stream)
        for ptr in self._buffers:
            self._cuda.free(ptr)
        self._buffers.clear()

    def alloc(self, nbytes: int) -> int:
        ptr = self._cuda.malloc(max(int(nbytes), 1))
        self._buffers.append(ptr)
        return ptr

    def upload(self, host: np.ndarray) -> int:
        """Copy a C-contiguous host array to a new device buffer; returns its pointer."""
        host = np.ascontiguousarray(host)
        ptr = self.alloc(host.nbytes)
        self._cuda.copy_to_device(ptr, host, self.stream)
        return ptr

    def download(self, ptr: int, host: np.ndarray) -> None:
        """Copy a device buffer into a C-contiguous host array (synchronises the stream)."""
        self._cuda.copy_to_host(host, ptr, self.stream)
