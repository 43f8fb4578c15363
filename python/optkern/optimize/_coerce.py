"""Checking what a Python objective returns, on the rare slow path.

The compiled loop copies the common case itself (a float and an ndarray of the run's dtype
and shape). Anything else comes here: it is converted if it is a sensible value, or a
ValueError names the argument at fault. NaN and Inf are let through: the optimiser treats
them (it shrinks the step, or stops with a status).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from optkern._validation import describe, fail


def _real_array(value: Any, name: str, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - reported with the argument's name
        fail(name, what, f"{describe(value)} ({exc})")
    if arr.dtype.kind not in "biuf":
        fail(name, f"{what} of real numbers", f"dtype {arr.dtype}")
    return arr


class ObjectiveCoercer:
    """Converts what fun, jac and hess return for one run (n variables, one dtype).

    ``batch`` is None for :func:`minimize` and B for :func:`minimize_batch`, where fun
    returns values of shape (B,) and gradients of shape (B, n).
    """

    def __init__(self, n: int, dtype: np.dtype, jac_is_true: bool, batch: int | None = None):
        self.n = n
        self.dtype = dtype
        self.jac_is_true = jac_is_true
        self.batch = batch
        self.grad_name = "jac" if batch is None else "fun"

    def pair(self, result: Any) -> tuple[Any, Any]:
        """(f, g) from fun's return value."""
        if isinstance(result, (tuple, list)) and len(result) == 2:
            return tuple(result)
        expected = ("fun(x) to return (f, g), as jac=True says" if self.batch is None
                    else "fun(X) to return (F, G): values (B,) and gradients (B, n)")
        fail("fun", expected, describe(result))
        raise AssertionError  # unreachable

    def value(self, value: Any) -> Any:
        if self.batch is not None:
            arr = _real_array(value, "fun", "values F")
            if arr.shape != (self.batch,):
                fail("fun", f"values F of shape ({self.batch},)", f"shape {arr.shape}")
            return np.ascontiguousarray(arr, dtype=self.dtype)
        arr = _real_array(value, "fun", "a real scalar f(x)")
        if arr.ndim != 0 and arr.size != 1:
            fail("fun", "a real scalar f(x)", f"an array of shape {arr.shape}")
        return float(arr.reshape(()))

    def gradient(self, value: Any) -> np.ndarray:
        shape = (self.n,) if self.batch is None else (self.batch, self.n)
        what = "a gradient" if self.batch is None else "gradients G"
        arr = _real_array(value, self.grad_name, what)
        if arr.shape != shape:
            fail(self.grad_name, f"{what} of shape {shape}", f"shape {arr.shape}")
        return np.ascontiguousarray(arr, dtype=self.dtype)

    def hessian(self, value: Any) -> np.ndarray:
        arr = _real_array(value, "hess", "a Hessian")
        if arr.shape != (self.n, self.n):
            fail("hess", f"a Hessian of shape ({self.n}, {self.n})", f"shape {arr.shape}")
        return np.ascontiguousarray(arr, dtype=self.dtype)
