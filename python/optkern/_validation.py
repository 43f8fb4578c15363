"""Argument checks shared by every optkern function.

One place decides what optkern accepts, so that every kernel behaves the same way:

* dtypes: float32 and float64 are kept as given (byte-swapped ones become native); bool and
  integers are promoted to float64, float16 to float32; complex, long double, object and
  string arrays are rejected;
* layout: arrays handed to a kernel are C-contiguous (copied only when they are not);
* batches: leading dimensions broadcast like NumPy's;
* devices: ``device="cpu" | "cuda" | "auto"``;
* errors: a ``ValueError`` whose message starts with the argument's name and says what was
  expected, e.g. ``"reg: expected a positive number, got -1.0"``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from optkern import _backend

FLOAT32 = np.dtype(np.float32)
FLOAT64 = np.dtype(np.float64)
DEVICES = ("cpu", "cuda", "auto")
# Integer bounds: what the kernels take as a C int or an int64 (a larger Python int would
# fail in the bindings with an unnamed TypeError), the most float64 elements NumPy can
# describe (beyond it NumPy raises ValueError, below it an allocation that cannot be met
# raises MemoryError), and the most threads (OpenMP crashes when it cannot create them).
INT_MAX = 2**31 - 1
INDEX_MAX = 2**63 - 1
MAX_ELEMENTS = 2**59
MAX_THREADS = 1024


def fail(name: str, expected: str, got: Any = None) -> None:
    """Raise the ValueError every optkern check raises."""
    message = f"{name}: expected {expected}"
    if got is not None:
        message += f", got {got}"
    raise ValueError(message)


def describe(x: Any) -> str:
    """A short description of a value for error messages."""
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return f"{type(x).__name__} of shape {tuple(x.shape)} and dtype {x.dtype}"
    return repr(x) if len(repr(x)) <= 60 else type(x).__name__


def compute_dtype(dtype: Any, name: str) -> np.dtype:
    """The floating dtype a kernel computes in for input of `dtype` (see the module doc)."""
    dtype = np.dtype(dtype)
    # the canonical dtype objects: some bindings compare dtypes by identity, and byte-swapped
    # floats (as FITS files hold) or dtypes with metadata are equal in value only
    if dtype.kind == "f" and dtype.itemsize in (4, 8):
        return FLOAT32 if dtype.itemsize == 4 else FLOAT64
    if dtype.kind in "biu":
        return FLOAT64
    if dtype.kind == "f" and dtype.itemsize < 4:
        return FLOAT32
    if dtype.kind == "c":
        fail(name, "a real array (complex input is not supported)", f"dtype {dtype}")
    fail(name, "a real floating-point or integer array", f"dtype {dtype}")
    raise AssertionError  # unreachable


def result_dtype(*items: tuple[Any, str]) -> np.dtype:
    """The dtype of a result computed from several (dtype, name) inputs: NumPy's result type
    of the inputs, then the policy of :func:`compute_dtype`."""
    for dtype, name in items:
        compute_dtype(dtype, name)  # names the offending argument
    return compute_dtype(np.result_type(*(np.dtype(d) for d, _ in items)), items[0][1])


def as_array(x: Any, name: str) -> np.ndarray:
    """np.asarray with a named error for values NumPy cannot turn into a numeric array."""
    if type(x) is np.ndarray and x.dtype.kind in "biuf":
        return x
    if is_gpu_array(x):
        fail(name, "a host (NumPy) array; this function runs on the CPU", describe(x))
    reject_masked(x, name)
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        fail(name, "an array of numbers", f"{describe(x)} ({exc})")
    if arr.dtype.kind not in "biufc":
        fail(name, "an array of numbers", f"dtype {arr.dtype}")
    return arr


def as_float_array(
    x: Any,
    name: str,
    dtype: Any = None,
    *,
    min_ndim: int = 0,
    ndim: int | None = None,
    finite: bool = True,
    contiguous: bool = True,
) -> np.ndarray:
    """Convert `x` to a float32/float64 array a kernel can read.

    dtype: the dtype to convert to; by default the policy dtype of `x` itself.
    min_ndim, ndim: the number of dimensions required.
    finite: reject NaN and Inf.
    contiguous: return a C-contiguous array (a copy only if needed).
    """
    arr = as_array(x, name)
    target = compute_dtype(arr.dtype, name)  # also rejects complex input for a given dtype
    if dtype is not None:
        target = np.dtype(dtype)
    if ndim is not None and arr.ndim != ndim:
        fail(name, f"a {ndim}-dimensional array", f"shape {arr.shape}")
    if arr.ndim < min_ndim:
        fail(name, f"an array with at least {min_ndim} dimensions", f"shape {arr.shape}")
    with np.errstate(over="ignore"):  # values out of float32's range: reported below
        if contiguous:
            arr = np.ascontiguousarray(arr, dtype=target)
            if not arr.flags.aligned:  # a view of packed records: kernels need aligned data
                arr = arr.copy()
        else:
            arr = arr.astype(target, copy=False)
    if arr.dtype is not target:  # equal in value only (metadata): the canonical dtype
        arr = arr.view(target)
    if finite and not np.isfinite(arr).all():
        fail(name, "finite values", "NaN or Inf")
    return arr


def overflow_scale(x: np.ndarray) -> float:
    """1, or the power of two to divide x by when its largest magnitude is near overflow
    (above 2^960). A function linear in x (a vjp in its incoming gradient) is then computed
    on x / scale, exactly, and scaled back, so that its sums overflow only where its results
    do (a mean of values near 1.8e308 is not Inf, a difference of them not NaN)."""
    if not x.size:
        return 1.0
    top = max(float(x.max()), -float(x.min()))
    return float(np.ldexp(1.0, np.frexp(top)[1] - 1)) if top > 2.0**960 else 1.0


def check_device(device: Any) -> str:
    """Validate a ``device=`` argument."""
    if not isinstance(device, str) or device not in DEVICES:
        fail("device", "'cpu', 'cuda' or 'auto'", repr(device))
    return device


def check_stream(stream: Any) -> int | None:
    """A ``stream=`` argument as a cudaStream_t handle: None (the default), an int handle
    (0, the legacy default stream), a torch.cuda.Stream or a cupy.cuda.Stream."""
    if stream is None:
        return None
    for attribute in ("cuda_stream", "ptr"):  # torch.cuda.Stream, cupy.cuda.Stream
        if hasattr(stream, attribute) and not isinstance(stream, (int, np.integer)):
            stream = getattr(stream, attribute)
            break
    if isinstance(stream, (bool, np.bool_)) or not isinstance(stream, (int, np.integer)) \
            or not 0 <= int(stream) < 2**64:
        fail("stream", "None, a CUDA stream handle (an int >= 0), a torch.cuda.Stream or a "
             "cupy.cuda.Stream", describe(stream))
    return int(stream)


def resolve_device(device: Any, arrays: Iterable[tuple[Any, str]], stream: Any = None) -> str:
    """Decide where a call runs: "cpu" or "cuda".

    "auto" follows the data: CUDA when an input already lives on a GPU, the CPU otherwise.
    "cuda" needs a CUDA device; NumPy inputs are then copied to it and the results back.
    "cpu" refuses GPU arrays instead of copying them to the host behind the caller's back.
    A ``stream`` (checked by :func:`check_stream`) is only meaningful on CUDA.
    """
    stream = check_stream(stream)
    device = check_device(device)
    arrays = list(arrays)
    for x, name in arrays:  # on every device: a GPU copy would drop the mask as well
        reject_masked(x, name)
    on_gpu = [name for x, name in arrays if is_gpu_array(x)]
    if device == "auto":
        device = "cuda" if on_gpu else "cpu"
    if device == "cpu" and on_gpu:
        fail(on_gpu[0], "a host array for device='cpu' (use device='cuda' or 'auto')",
             "an array on a CUDA device")
    if stream is not None and device == "cpu":
        fail("stream", "None when the call runs on the CPU (device='cpu', or 'auto' with host "
             "arrays)", describe(stream))
    if device == "cuda" and not _backend.cuda_available():
        raise ValueError(
            f"device: 'cuda' was requested but CUDA is not available here "
            f"({_backend.cuda_unavailable_reason()}); use device='cpu' or 'auto'"
        )
    return device


def is_gpu_array(x: Any) -> bool:
    """True for CuPy arrays, torch CUDA tensors and any DLPack object on a CUDA device."""
    if isinstance(x, np.ndarray):
        return False
    dlpack_device = getattr(x, "__dlpack_device__", None)
    if dlpack_device is not None:
        try:
            device_type = int(dlpack_device()[0])
        except Exception:
            device_type = 0
        if device_type in (2, 13):  # kDLCUDA, kDLCUDAManaged
            return True
    return hasattr(x, "__cuda_array_interface__")


def broadcast_batch(shapes: Sequence[tuple[tuple[int, ...], str]]) -> tuple[int, ...]:
    """Broadcast the batch shapes of several arguments, naming them if they do not match."""
    try:
        return tuple(np.broadcast_shapes(*(shape for shape, _ in shapes)))
    except ValueError as exc:
        described = ", ".join(f"{name} {shape}" for shape, name in shapes)
        fail(", ".join(name for _, name in shapes), "batch shapes that broadcast", described)
        raise AssertionError from exc  # unreachable


def check_number(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
) -> float | int:
    """A finite real (or integer) scalar within [low, high]; open ends exclude the bound.
    Integers are bounded by the int64 range when no bound is given."""
    kind = "an integer" if integer else "a finite real number"
    if integer:
        low = -INDEX_MAX - 1 if low is None else low
        high = INDEX_MAX if high is None else high
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        fail(name, kind, repr(value))
    try:
        if integer and not isinstance(value, numbers.Integral):
            if not float(value).is_integer():
                fail(name, kind, repr(value))
        number = int(value) if integer else float(value)
    except OverflowError:  # 10**400: a real number, but beyond every float
        fail(name, kind, f"{describe_number(value)}, which is too large for a float")
    except (TypeError, ValueError) as exc:  # a numbers.Real that cannot become a float
        fail(name, kind, f"{describe_number(value)} ({exc})")
    if not integer and not math.isfinite(number):
        fail(name, kind, repr(value))
    if low is not None and (number < low or (low_open and number == low)):
        fail(name, f"{kind} {'>' if low_open else '>='} {low}", describe_number(value))
    if high is not None and (number > high or (high_open and number == high)):
        fail(name, f"{kind} {'<' if high_open else '<='} {high}", describe_number(value))
    return number


def describe_number(value: Any) -> str:
    """repr(value), shortened for numbers with hundreds of digits."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:12]}...{text[-6:]} ({len(text)} characters)"


def check_bool(value: Any, name: str) -> bool:
    """A flag: True or False, NumPy's booleans included; numbers, strings and None are not
    flags (``return_info="yes"`` or ``1`` is a ValueError naming the argument)."""
    if not isinstance(value, (bool, np.bool_)):
        fail(name, "True or False", describe(value))
    return bool(value)


def reject_masked(x: Any, name: str) -> None:
    """Masked arrays are refused rather than computed on with their mask silently dropped."""
    if isinstance(x, np.ma.MaskedArray):
        fail(name, "a plain array (masked arrays are not supported: fill or compress the "
             "masked values first, e.g. x.filled(value))", describe(x))
