"""Graphs for the graph Fourier experiments: Barabasi-Albert graphs and Laplacians."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optkern._validation import MAX_ELEMENTS, as_float_array, check_number, fail
from optkern.givens._checks import check_symmetric, generator

__all__ = ["barabasi_albert", "laplacian"]


def barabasi_albert(n: int, m: int, rng: Any = None) -> np.ndarray:
    """The adjacency matrix of a Barabasi-Albert preferential-attachment graph.

    The model of Frerix & Bruna's Table 1 (and of ``networkx.barabasi_albert_graph`` before
    version 3): ``m`` vertices without edges, then vertices ``m, ..., n - 1`` arrive one by
    one, each joining ``m`` distinct earlier vertices chosen with probability proportional to
    their degree (the first arrival joins all ``m`` initial ones). The graph has
    ``m (n - m)`` edges.

    Parameters
    ----------
    n : int
        Number of vertices.
    m : int
        Edges per arriving vertex, ``1 <= m < n``.
    rng : numpy.random.Generator or seed, optional
        Randomness, passed through ``numpy.random.default_rng``.

    Returns
    -------
    ndarray of float64, shape (n, n)
        Symmetric 0/1 adjacency matrix with a zero diagonal.

    Raises
    ------
    ValueError
        If n or m is not a positive integer, or ``m >= n``.

    Examples
    --------
    >>> import numpy as np
    >>> from optkern.givens import barabasi_albert
    >>> A = barabasi_albert(64, 54, np.random.default_rng(0))
    >>> int(A.sum()) // 2 == 54 * (64 - 54), bool((A == A.T).all())
    (True, True)
    """
    n = int(check_number(n, "n", low=1, high=math.isqrt(MAX_ELEMENTS), integer=True))
    m = int(check_number(m, "m", low=1, integer=True))
    if m >= n:
        fail("m", f"an integer < n = {n}", repr(m))
    gen = generator(rng)
    adjacency = np.zeros((n, n))
    # Every edge end is one entry of `ends`, so a uniform entry is a vertex drawn with
    # probability proportional to its degree.
    ends = np.empty(2 * m * (n - m), dtype=np.int64)
    size = 0
    targets = np.arange(m)
    for source in range(m, n):
        adjacency[source, targets] = adjacency[targets, source] = 1.0
        ends[size:size + m] = targets
        ends[size + m:size + 2 * m] = source
        size += 2 * m
        chosen: set[int] = set()
        while len(chosen) < m and source + 1 < n:
            chosen.add(int(ends[gen.integers(size)]))
        targets = np.fromiter(chosen, dtype=np.int64, count=len(chosen))
    return adjacency


def laplacian(A: Any) -> Any:
    """The combinatorial graph Laplacian ``L = D - A`` of a symmetric adjacency matrix.

    Parameters
    ----------
    A : array_like or scipy.sparse matrix, shape (n, n)
        Symmetric (weighted) adjacency; the diagonal (self-loops) cancels out of ``D - A``.

    Returns
    -------
    ndarray, or a scipy.sparse CSR matrix for sparse input
        float32 for float32 input, float64 otherwise.

    Raises
    ------
    ValueError
        If A is not square, not symmetric, or holds NaN or Inf.

    Examples
    --------
    >>> import numpy as np
    >>> from optkern.givens import laplacian
    >>> laplacian(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]]))
    array([[ 1., -1.,  0.],
           [-1.,  2., -1.],
           [ 0., -1.,  1.]])
    """
    if _is_sparse(A):
        return _sparse_laplacian(A)
    a = as_float_array(A, "A", ndim=2)
    if a.shape[0] != a.shape[1]:
        fail("A", "a square matrix", f"shape {a.shape}")
    if a.size:
        check_symmetric(a, "A")
    degree = a.sum(axis=1) - np.diagonal(a)
    lap = np.zeros_like(a) - a  # 0 - a: no negative zeros off the edges
    np.fill_diagonal(lap, degree)
    return lap


def _is_sparse(A: Any) -> bool:
    module = type(A).__module__
    return module.startswith("scipy.sparse") and hasattr(A, "tocsr")


def _sparse_laplacian(A: Any) -> Any:
    import scipy.sparse as sp

    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        fail("A", "a square matrix", f"shape {A.shape}")
    a = sp.csr_matrix(A)
    dtype = np.float32 if a.dtype == np.float32 else np.float64
    if a.dtype.kind not in "biuf":
        fail("A", "a real sparse matrix", f"dtype {a.dtype}")
    a = a.astype(dtype)
    if a.nnz and not np.isfinite(a.data).all():
        fail("A", "finite values", "NaN or Inf")
    asym = abs(a - a.T)
    scale = abs(a).max() if a.nnz else 0.0
    tol = 1000.0 * np.sqrt(a.shape[0]) * float(np.finfo(dtype).eps) * float(scale)
    if asym.nnz and asym.max() > tol:
        fail("A", f"a symmetric matrix (max |A - A^T| <= {tol:.2g})",
             f"max |A - A^T| = {asym.max():.3g}")
    degree = np.asarray(a.sum(axis=1)).ravel() - a.diagonal()
    lap = sp.diags(degree.astype(dtype)) - a
    lap.setdiag(degree)  # self-loops cancel: L_ii = degree without them
    return sp.csr_matrix(lap)
