"""Batched linear algebra: :func:`bmm`, the batched matrix product, and
:func:`tridiagonal_solve`, batches of tridiagonal systems, on CPU and GPU.

The area's shape (as every area's): the public functions and their docstrings here,
``_checks.py`` for the argument checks, ``_cpu.py`` and ``_cuda.py`` for the two paths."""

from __future__ import annotations

from typing import Any

import numpy as np

from optkern import _arrays, _dask, _docs, _gpu
from optkern._validation import is_gpu_array, resolve_device
from optkern.linalg import _cpu, _cuda
from optkern.linalg._checks import NAMES

__all__ = ["bmm", "tridiagonal_solve"]


@_docs.fill
@_arrays.same_kind("a", "b")
def bmm(a: Any, b: Any, *, device: str = "cpu", out: Any = None, stream: Any = None) -> Any:
    """Batched matrix product with the semantics of :func:`numpy.matmul` for ndim >= 2.

    Computes ``out[..., i, j] = sum_k a[..., i, k] * b[..., k, j]``. The leading (batch)
    dimensions broadcast, any strides are accepted (transposed and reversed views are read
    in place, not copied), and empty batches give empty results.

    Parameters
    ----------
    a : array_like, shape (..., m, k)
    b : array_like, shape (..., k, n)
    {device}
    out : array, optional
        Where to write the result; it must have the result's shape and dtype exactly. It may
        overlap the inputs (the result is then computed into a temporary first).
    {stream}

    Returns
    -------
    ndarray or GPU array, shape (broadcast(...), m, n)
        float32 if both inputs are float32 (or float16), float64 otherwise: the dtype of
        ``numpy.result_type(a, b)``, with integers and bools promoted to float64.

    Raises
    ------
    ValueError
        If an input has fewer than 2 dimensions, the inner dimensions differ, the batch
        shapes do not broadcast, an input is complex or not numeric, ``out`` has the wrong
        shape or dtype, or ``device="cuda"`` is asked for where CUDA is not available.

    Notes
    -----
    On the CPU, products run through register-blocked SIMD micro-kernels; the batch is split
    over ``optkern.get_num_threads()`` threads, and so is each product when the batch is too
    small to keep the threads busy. Unlike NumPy, NaN and Inf are not checked: they
    propagate as in any matrix product.

    Examples
    --------
    >>> import numpy as np, optkern
    >>> a = np.arange(24.0).reshape(2, 3, 4)
    >>> b = np.ones((4, 2))
    >>> c = optkern.linalg.bmm(a, b)              # b broadcasts over the batch
    >>> c.shape
    (2, 3, 2)
    >>> np.allclose(c, a @ b)
    True
    >>> optkern.linalg.bmm(a.astype(np.float32), b.astype(np.float32)).dtype
    dtype('float32')
    """
    if device == "cpu" and stream is None and type(a) is np.ndarray and type(b) is np.ndarray:
        return _cpu.bmm_numpy(a, b, out)  # the common case first: no device or dask lookup
    if _dask.is_dask(a, b):  # dask arrays: a lazy dask result (optkern/_dask.py)
        _dask.reject(out=(out, None))
        return _dask.batched(bmm, {"a": 2, "b": 2}, a=a, b=b, device=device, stream=stream)
    where = resolve_device(device, [(a, "a"), (b, "b"), (out, "out")], stream)
    if where == "cuda":
        with _gpu.use_stream(stream):
            if is_gpu_array(a) or is_gpu_array(b):
                return _cuda.bmm_gpu_arrays(a, b, out)
            return _cuda.bmm_host_on_gpu(a, b, out)
    return _cpu.bmm(a, b, out)


@_docs.fill
@_arrays.same_kind(*NAMES)
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
    {device}
    {stream}

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
    operands = (lower, diag, upper, rhs)
    if _dask.is_dask(*operands):  # a lazy dask result (optkern/_dask.py)
        return _dask.batched(tridiagonal_solve, dict.fromkeys(NAMES, 1), lower=lower, diag=diag,
                             upper=upper, rhs=rhs, device=device, stream=stream)
    where = resolve_device(device, list(zip(operands, NAMES)), stream)
    if where == "cuda":
        with _gpu.use_stream(stream):
            return _cuda.tridiagonal_solve(*operands)
    return _cpu.tridiagonal_solve(*operands)
