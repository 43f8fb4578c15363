"""Batched tridiagonal solves: :func:`tridiagonal_solve`, published as
``optkern.linalg.tridiagonal_solve``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optkern import _backend, _dask
from optkern._validation import (
    as_array,
    as_float_array,
    broadcast_batch,
    fail,
    resolve_device,
    result_dtype,
)

__all__ = ["tridiagonal_solve"]

NAMES = ("lower", "diag", "upper", "rhs")


def tridiagonal_solve(lower: Any, diag: Any, upper: Any, rhs: Any, *,
                      device: str = "cpu", stream: Any = None) -> Any:
    """Solve batches of tridiagonal systems ``A x = rhs`` in O(n) each.

    Row i of each n×n matrix A holds ``A[i, i-1] = lower[i]``, ``A[i, i] = diag[i]`` and
    ``A[i, i+1] = upper[i]``: the three diagonals are given as arrays of length n aligned with
    the rows, so ``lower[..., 0]`` and ``upper[..., n-1]`` lie outside the matrix and are
    ignored (any value). Diagonals of the exact lengths n − 1 are accepted too (``lower[j]``
    is then ``A[j+1, j]`` and ``upper[j]`` is ``A[j, j+1]``, as ``np.diag(A, ∓1)``).

    Parameters
    ----------
    lower, diag, upper : array_like, shape (..., n) (lower and upper also (..., n − 1))
        The sub-, main and super-diagonal of each system.
    rhs : array_like, shape (..., n)
        One right-hand side per system. To solve k right-hand sides with one matrix, give
        rhs the shape (..., k, n) and the diagonals (..., 1, n): the leading (batch)
        dimensions of all four arrays broadcast as in NumPy.
    device : {"cpu", "cuda", "auto"}
        Where to compute; "auto" follows the data. With "cuda", NumPy inputs are copied to the
        GPU and back; CuPy arrays, torch CUDA tensors and other DLPack GPU arrays are used in
        place and the result is the same kind of array.
    stream : int, torch.cuda.Stream or cupy.cuda.Stream, optional
        The CUDA stream to run on (CUDA runs only; a ValueError on the CPU). By default the
        current stream of the library that made the GPU arrays, or the legacy default stream
        for NumPy input.

    Returns
    -------
    x : array, shape (broadcast(...), n)
        float32 if every input is float32, float64 otherwise.

    Raises
    ------
    ValueError
        If the shapes do not fit together, an input contains NaN or Inf (host arrays), or
        ``device="cuda"`` is asked for where CUDA is not available.
    numpy.linalg.LinAlgError
        If a system is singular, or singular to working precision (its solution overflows
        into Inf - Inf), a subclass of ValueError. A solution that only overflows comes back
        as +-Inf. On a GPU, the rows of singular systems are NaN instead when the inputs are
        GPU arrays (raising would synchronise).

    Notes
    -----
    Thomas' algorithm (elimination without pivoting, one forward and one backward sweep)
    wherever its multipliers stay bounded, which covers diagonally dominant and symmetric
    positive definite matrices; every other system is solved by Gaussian elimination with
    partial pivoting, as LAPACK's ``?gtsv``. float32 systems are solved in double precision.
    On the CPU the batch is spread over ``optkern.get_num_threads()`` threads; on a GPU each
    thread solves one system.

    Examples
    --------
    >>> import numpy as np, optkern
    >>> n = 5
    >>> lower, diag, upper = -np.ones(n), 2 * np.ones(n), -np.ones(n)   # 1-D Laplacian
    >>> x = optkern.linalg.tridiagonal_solve(lower, diag, upper, np.ones(n))
    >>> x
    array([2.5, 4. , 4.5, 4. , 2.5])
    >>> a = np.diag(diag) + np.diag(lower[1:], -1) + np.diag(upper[:-1], 1)
    >>> bool(np.allclose(a @ x, 1))
    True
    >>> rhs = np.random.default_rng(0).standard_normal((3, n))     # three right-hand sides
    >>> optkern.linalg.tridiagonal_solve(lower, diag, upper, rhs).shape
    (3, 5)
    """
    if _dask.is_dask(lower, diag, upper, rhs):  # a lazy dask result (optkern/_dask.py)
        return _dask.tridiagonal_solve(**locals())
    where = resolve_device(device, [(a, name) for a, name in zip((lower, diag, upper, rhs), NAMES)],
                           stream)
    if where == "cuda":
        from optkern import _gpu, _tv_cuda

        with _gpu.use_stream(stream):
            return _tv_cuda.tridiagonal_solve(lower, diag, upper, rhs)
    arrays = [as_array(a, name) for a, name in zip((lower, diag, upper, rhs), NAMES)]
    dtype = result_dtype(*((a.dtype, name) for a, name in zip(arrays, NAMES)))
    arrays = [as_float_array(a, name, dtype, min_ndim=1) for a, name in zip(arrays, NAMES)]
    arrays, batch, n = system_layout(arrays)
    x = np.empty((math.prod(batch), n), dtype)
    rows = [flat_rows(a, batch, n) for a in arrays]
    count, first = _backend._core.tridiagonal_solve(*rows, x)
    if count:
        index = np.unravel_index(first, batch) if batch else ()
        raise np.linalg.LinAlgError(
            f"diag: the system at batch index {tuple(int(i) for i in index)} is singular"
            + (f" ({count} singular systems)" if count > 1 else ""))
    return x.reshape(batch + (n,))


def system_layout(arrays: list[Any]) -> tuple[list[Any], tuple[int, ...], int]:
    """Check the shapes of (lower, diag, upper, rhs); widen diagonals of length n − 1 to n.
    Returns the arrays, the broadcast batch shape and n."""
    n = arrays[1].shape[-1]
    if arrays[3].shape[-1] != n:
        fail("rhs", f"length {n} along the last axis like diag", f"shape {tuple(arrays[3].shape)}")
    out = list(arrays)
    for i in (0, 2):
        length = out[i].shape[-1]
        if length == n - 1 and n > 0:
            pad = [(0, 0)] * (out[i].ndim - 1) + [(1, 0) if i == 0 else (0, 1)]
            out[i] = pad_last(out[i], pad)
        elif length != n:
            fail(NAMES[i], f"length {n} or {n - 1} along the last axis (diag has {n})",
                 f"shape {tuple(out[i].shape)}")
    batch = broadcast_batch([(tuple(a.shape[:-1]), name) for a, name in zip(out, NAMES)])
    return out, batch, n


def pad_last(a: Any, pad: list[tuple[int, int]]) -> Any:
    """Zero-pad a host array (NumPy) or a GPU array (through its own library) by one entry."""
    if isinstance(a, np.ndarray):
        return np.pad(a, pad)
    if hasattr(a, "new_zeros"):  # torch
        import torch

        return torch.nn.functional.pad(a, pad[-1])
    xp = a.__array_namespace__() if hasattr(a, "__array_namespace__") else None
    if xp is not None and hasattr(xp, "pad"):
        return xp.pad(a, pad)
    import cupy

    return cupy.pad(a, pad)


def flat_rows(a: np.ndarray, batch: tuple[int, ...], n: int) -> np.ndarray:
    """A C-contiguous (1, n) row when one system's operand is shared by all, else (B, n)."""
    if int(np.prod(a.shape[:-1], dtype=np.int64)) == 1:
        return np.ascontiguousarray(a.reshape(1, n))
    if tuple(a.shape[:-1]) != batch:
        a = np.broadcast_to(a, batch + (n,))
    return np.ascontiguousarray(a).reshape(math.prod(batch), n)
