"""factorize on a stack of matrices (..., d, d): one GivensSequence per matrix."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optkern import _dask
from optkern._validation import describe, fail


def is_stack(U: Any) -> bool:
    """True for a dask array, or an array with more than 2 dimensions."""
    if _dask.is_dask(U):
        return True
    ndim = getattr(U, "ndim", None)
    if ndim is None and isinstance(U, (list, tuple)):
        ndim = np.ndim(U)
    return isinstance(ndim, int) and ndim > 2


def factorize_stack(U: Any, n_factors: Any = None, *, callback: Any = None,
                    progress: bool = False, stream: Any = None, **options: Any) -> Any:
    """``factorize`` of every matrix of U (..., d, d): an object ndarray of shape (...)
    holding one GivensSequence per matrix (a dask array of them for dask input)."""
    if _dask.is_dask(U):
        return _dask.givens_factorize(U, n_factors=n_factors, callback=callback,
                                      progress=progress, stream=stream, **options)
    from optkern.givens._factorize import factorize

    if callback is not None:
        fail("callback", "None for a stack of matrices (one sequence per matrix)",
             describe(callback))
    if progress is not False:
        fail("progress", "False for a stack of matrices", describe(progress))
    if not hasattr(U, "shape"):
        U = np.asarray(U)
    shape = tuple(U.shape)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        fail("U", "a square matrix or a stack of them (..., d, d)", f"shape {shape}")
    batch = shape[:-2]
    out = np.empty(batch, dtype=object)
    flat = out.reshape(-1)  # a view: an ndarray of objects is C-contiguous
    if math.prod(batch) == 0:
        # check the options and the matrix size once, as a single matrix would
        _validate_empty(shape[-1], n_factors, stream, options, U)
        return out
    for k, index in enumerate(np.ndindex(*batch)):
        flat[k] = factorize(U[index], n_factors, stream=stream, **options)
    return out


def _validate_empty(d: int, n_factors: Any, stream: Any, options: dict, U: Any) -> None:
    """The argument checks of factorize for an empty stack: the matrix size and dtype, the
    factor count, and the options (on a 2 x 2 identity, which costs nothing)."""
    from optkern.givens import _checks
    from optkern.givens._factorize import factorize

    dtype = np.dtype(getattr(U, "dtype", np.float64))
    _checks.square_matrix(np.eye(d, dtype=dtype) if d <= 2 else np.eye(2, dtype=dtype), "U")
    if d < 2:
        fail("U", "matrices of size at least 2 x 2", f"shape {tuple(U.shape)}")
    _checks.factor_count(n_factors, d)
    eye = np.eye(2, dtype=dtype if dtype.kind == "f" else np.float64)
    factorize(eye, 0, stream=stream, **options)
