"""factorize on a stack of matrices (..., d, d): one GivensSequence per matrix."""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import numpy as np

from optkern import _dask
from optkern._validation import compute_dtype, fail
from optkern.givens import _checks


def is_stack(U: Any) -> bool:
    """True for a dask array, or an array with more than 2 dimensions."""
    if _dask.is_dask(U):
        return True
    ndim = getattr(U, "ndim", None)
    if ndim is None and isinstance(U, (list, tuple)):
        ndim = np.ndim(U)
    return isinstance(ndim, int) and ndim > 2


def factorize_stack(factorize: Callable[..., Any], U: Any, n_factors: Any = None, *,
                    callback: Any = None, progress: bool = False, stream: Any = None,
                    **options: Any) -> Any:
    """``factorize`` (optkern.givens.factorize) of every matrix of U (..., d, d), with the same
    arguments: an object ndarray of shape (...) holding one GivensSequence per matrix, or a
    dask array of them for dask input (which runs on the workers: no callback or progress
    there)."""
    if _dask.is_dask(U):
        _dask.reject(stream=(stream, None), callback=(callback, None),
                     progress=(progress, False))
        _dask.check_device_option(options)
        U = _dask.Operand(_dask.as_dask(U, "U", 2), "U", 2)
        return _dask.apply(functools.partial(factorize_stack, factorize), [U],
                           {"n_factors": n_factors, **options})
    if not hasattr(U, "shape"):
        U = np.asarray(U)
    batch = tuple(U.shape[:-2])
    out = np.empty(batch, dtype=object)
    if math.prod(batch) == 0:
        _validate_empty(factorize, U, n_factors, callback, progress, stream, options)
        return out
    flat = out.reshape(-1)  # a view: an ndarray of objects is C-contiguous
    for k, index in enumerate(np.ndindex(*batch)):
        flat[k] = factorize(U[index], n_factors, callback=callback, progress=progress,
                            stream=stream, **options)
    return out


def _validate_empty(factorize: Callable[..., Any], U: Any, n_factors: Any, callback: Any,
                    progress: Any, stream: Any, options: dict) -> None:
    """The argument checks of factorize, in its order, for a stack of no matrices: the
    options (on a 2 x 2 identity, which costs nothing), then U's dtype and matrix shape, then
    the factor count."""
    _checks.check_flag(progress, "progress")
    factorize(np.eye(2), 0, callback=callback, stream=stream, **options)
    compute_dtype(U.dtype, "U")
    d = U.shape[-1]
    if U.shape[-2] != d:
        fail("U", "square matrices (..., d, d)", f"shape {tuple(U.shape)}")
    if d < 2:
        fail("U", "matrices of size at least 2 x 2", f"shape {tuple(U.shape)}")
    _checks.factor_count(n_factors, d, options.get("tol"), options.get("method", "l1"))
