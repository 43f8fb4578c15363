"""The one array layer for the CUDA paths and for results: array operations on CuPy arrays,
torch tensors and other array-API arrays, through ``array-api-compat`` (the library SciPy and
scikit-learn use), so that no area writes its own torch/CuPy branches.

Two policies live here, stated once for every area:

* **NaN/Inf in GPU input.** A GPU array is checked on its device, by its own library, as a
  host array is on the CPU: NaN or Inf raise ``ValueError`` naming the argument. The check is
  one reduction per input and one read-back (it synchronises the stream), the price of the same
  answer on every device. Values found only while computing (a singular tridiagonal system, a
  diverging iteration) are reported per problem as NaN rows or a status, never by raising,
  because finding them would need a second synchronisation.
* **Results in the input's kind.** Every public function returns the kind of array it was
  given: NumPy for NumPy, a torch tensor for a torch tensor (CPU tensors included), CuPy for
  CuPy, on the input's device (:func:`same_kind`).

DLPack pointers and CUDA streams are :mod:`optkern._gpu`'s.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from typing import Any, Callable, TypeVar

import array_api_compat
import numpy as np

from optkern._validation import describe, fail

F = TypeVar("F", bound=Callable[..., Any])

device = array_api_compat.device  # the device an array lives on, for any kind of array


def namespace(x: Any, name: str = "x") -> Any:
    """The array-API namespace of `x` (array_api_compat's wrapper for torch and CuPy)."""
    try:
        return array_api_compat.array_namespace(x)
    except TypeError:
        fail(name, "a NumPy or CuPy array, a torch tensor or an array-API array", describe(x))
        raise AssertionError from None  # unreachable


def namespace_or_none(x: Any) -> Any:
    """The array-API namespace of `x`, or None for an object that only speaks DLPack."""
    try:
        return array_api_compat.array_namespace(x)
    except TypeError:
        return None


def contiguous(x: Any) -> Any:
    """x in C order (a copy only where it is not)."""
    if array_api_compat.is_torch_array(x):
        return x.contiguous()
    if isinstance(x, np.ndarray):
        return np.ascontiguousarray(x)
    if array_api_compat.is_cupy_array(x):
        import cupy

        return cupy.ascontiguousarray(x)
    return namespace(x).asarray(x, copy=True)


def broadcast_to(x: Any, shape: tuple[int, ...]) -> Any:
    if tuple(x.shape) == tuple(shape):
        return x
    return namespace(x).broadcast_to(x, tuple(shape))


def asarray_like(host: Any, like: Any, dtype: Any = None) -> Any:
    """`host` (a NumPy array or numbers) as an array of `like`'s kind, on its device."""
    xp = namespace(like)
    if dtype is not None:
        dtype = getattr(xp, np.dtype(dtype).name)
    return xp.asarray(host, dtype=dtype, device=array_api_compat.device(like))


def sum_axes(x: Any, axes: tuple[int, ...], keepdims: bool = False) -> Any:
    if not axes:
        return x
    return namespace(x).sum(x, axis=tuple(axes), keepdims=keepdims)


def to_numpy(x: Any) -> np.ndarray:
    """A (small) array of any kind on the host."""
    if isinstance(x, np.ndarray):
        return x
    if array_api_compat.is_torch_array(x):
        return x.detach().cpu().numpy()
    if array_api_compat.is_cupy_array(x):
        return x.get()
    return np.asarray(x)


def all_finite(x: Any) -> bool:
    """Whether x has no NaN or Inf, reduced on its own device (one read-back)."""
    if math.prod(x.shape) == 0:
        return True
    xp = namespace(x)
    return bool(xp.all(xp.isfinite(x)))


def max_abs(x: Any) -> float:
    """max |x| (0 for an empty array), reduced on the device and read back."""
    if math.prod(x.shape) == 0:
        return 0.0
    xp = namespace(x)
    return float(xp.max(xp.abs(x)))


def check_finite(x: Any, name: str, nonnegative: bool = False) -> None:
    """The NaN policy for GPU input (module docstring): raise for NaN or Inf (and, with
    `nonnegative`, for values below 0), from one reduction on the device."""
    if math.prod(x.shape) == 0:
        return
    xp = namespace(x)
    good = xp.isfinite(x)
    if nonnegative:
        good = good & (x >= 0)
    if not bool(xp.all(good)):
        fail(name, "finite values" + (" >= 0" if nonnegative else ""),
             "NaN, Inf" + (" or a negative value" if nonnegative else ""))


# --- results in the input's kind ------------------------------------------------------------


def _foreign_host_array(x: Any) -> bool:
    """A CPU array that is not NumPy's: a torch CPU tensor, or another array-API array on
    the host (not a dask array, whose results are dask arrays already)."""
    if isinstance(x, np.ndarray) or not hasattr(x, "shape"):
        return False
    if array_api_compat.is_torch_array(x):
        return x.device.type == "cpu"
    if array_api_compat.is_dask_array(x) or array_api_compat.is_cupy_array(x):
        return False
    return hasattr(x, "__array_namespace__") and str(array_api_compat.device(x)) == "cpu"


def _converter(like: Any) -> Callable[[Any], Any]:
    xp = namespace(like)
    device = array_api_compat.device(like)
    if array_api_compat.is_torch_array(like):
        import torch

        return lambda a: torch.from_numpy(np.ascontiguousarray(a))  # shares the memory
    return lambda a: xp.asarray(a, device=device)


def convert_result(result: Any, convert: Callable[[Any], Any]) -> Any:
    """NumPy arrays inside a result (itself, a tuple, a dataclass) converted."""
    if isinstance(result, np.ndarray):
        return convert(result) if result.dtype.kind in "biuf" else result
    if isinstance(result, tuple):
        items = [convert_result(r, convert) for r in result]
        return type(result)(*items) if hasattr(result, "_fields") else tuple(items)
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        changes = {f.name: convert_result(getattr(result, f.name), convert)
                   for f in dataclasses.fields(result) if f.init}
        return dataclasses.replace(result, **changes)
    return result


def same_kind(*arrays: str) -> Callable[[F], F]:
    """Decorate a public function whose NumPy results should come back as the kind of array
    of its first non-NumPy host input among the parameters named (torch CPU tensors and other
    array-API CPU arrays). GPU inputs already give GPU results of their kind."""

    def decorate(function: F) -> F:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = function(*args, **kwargs)
            if not any(map(_foreign_host_array, args)) and not any(
                    map(_foreign_host_array, kwargs.values())):
                return result  # the common case, NumPy in: nothing to look up
            bound = signature.bind_partial(*args, **kwargs)
            for name in arrays:
                value = bound.arguments.get(name)
                for candidate in value if isinstance(value, (tuple, list)) else (value,):
                    if _foreign_host_array(candidate):
                        return convert_result(result, _converter(candidate))
            return result

        return wrapper  # type: ignore[return-value]

    return decorate
