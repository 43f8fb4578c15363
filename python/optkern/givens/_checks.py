"""Argument checks of optkern.givens: square, orthogonal and symmetric matrices, factor counts."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optkern._validation import MAX_ELEMENTS, as_float_array, check_number, fail
from optkern.linalg import bmm

# Orthogonality and symmetry are checked to this many ulps of the dtype, times sqrt(d): loose
# enough for eigenvectors from LAPACK in float32 and products of many rotations, tight enough
# to reject anything that is not meant to be orthogonal.
_ULPS = 1000.0


def square_matrix(x: Any, name: str) -> np.ndarray:
    """A finite, C-contiguous float32/float64 (d, d) array with d >= 2."""
    arr = as_float_array(x, name, ndim=2)
    if arr.shape[0] != arr.shape[1]:
        fail(name, "a square matrix", f"shape {arr.shape}")
    if arr.shape[0] < 2:
        fail(name, "a matrix of size at least 2 x 2", f"shape {arr.shape}")
    return arr


def tolerance(dtype: np.dtype, d: int) -> float:
    return _ULPS * math.sqrt(d) * float(np.finfo(dtype).eps)


def check_orthogonal(u: np.ndarray, name: str) -> None:
    d = u.shape[0]
    u64 = u.astype(np.float64, copy=False)
    # optkern's own product, not NumPy's: it runs on optkern's threads without the GIL,
    # while OpenBLAS serialises concurrent callers (two Python threads factorizing at once
    # took longer than one doing both)
    gram = bmm(u64.T, u64)
    error = float(np.abs(gram - np.eye(d)).max())
    tol = tolerance(u.dtype, d)
    if not error <= tol:
        fail(name, f"an orthogonal matrix (max |U^T U - I| <= {tol:.2g}; pass check=False to "
                   f"skip this test)", f"max |U^T U - I| = {error:.3g}")


def check_symmetric(a: np.ndarray, name: str) -> None:
    scale = float(np.abs(a).max())
    error = float(np.abs(a - a.T).max())
    tol = tolerance(a.dtype, a.shape[0]) * scale
    if not error <= tol:
        fail(name, f"a symmetric matrix (max |A - A^T| <= {tol:.2g})",
             f"max |A - A^T| = {error:.3g}")


def factor_count(n_factors: Any, d: int, tol: Any = None, method: str = "elimination") -> int:
    """n_factors, or d(d-1)/2 (the number that factors any rotation exactly) for None, which
    only a run with a tol or an exact method may leave out (a greedy run has no natural
    length)."""
    if n_factors is None:
        if tol is None and method != "elimination":
            fail("n_factors", f"a number of factors, or tol= (at least one of them for "
                 f"method={method!r}; n_factors={d * (d - 1) // 2} = d(d-1)/2 factors any "
                 f"rotation)", "neither")
        return d * (d - 1) // 2
    return int(check_number(n_factors, "n_factors", low=0, high=MAX_ELEMENTS, integer=True))


def generator(rng: Any, name: str = "rng") -> np.random.Generator:
    """numpy.random.default_rng(rng), with a ValueError naming the argument for a bad seed."""
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError) as exc:
        fail(name, "a numpy.random.Generator, a non-negative integer seed or None",
             f"{rng!r} ({exc})")
        raise AssertionError from exc  # unreachable


def check_flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        fail(name, "True or False", repr(value))
    return bool(value)
