"""jacobi: the truncated Jacobi eigenvalue method, the graph-Fourier baseline."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from optkern import _backend
from optkern.givens import _checks
from optkern.givens._driver import GivensStep, drive

__all__ = ["jacobi"]


def jacobi(
    L: Any,
    n_factors: int | None = None,
    *,
    callback: Callable[[GivensStep], Any] | None = None,
    progress: bool = False,
    return_eigenvalues: bool = False,
) -> Any:
    """Approximate the eigenvectors of a symmetric matrix by a product of Givens rotations.

    The truncated Jacobi method (Le Magoarou, Gribonval and Tremblay, IEEE TSIPN 2018), the
    baseline of Frerix & Bruna's graph Fourier experiment: each step zeroes the largest
    off-diagonal entry of ``L_k`` by ``L_{k+1} = G^T L_k G`` with ``|theta| <= pi/4``, so that
    ``L ~ V diag(L_N) V^T`` with ``V = seq.to_dense()``.

    Parameters
    ----------
    L : array_like, shape (d, d)
        A symmetric matrix (a graph Laplacian, say), d >= 2; float32 or float64.
    n_factors : int, optional
        The most rotations; default ``d (d - 1) / 2``.
    callback, progress
        As for :func:`factorize`; ``GivensStep.decrease`` is the magnitude of the entry the
        step zeroed.
    return_eigenvalues : bool
        Also return the diagonal of the rotated matrix (the approximate eigenvalues, in the
        order of the columns of V).

    Returns
    -------
    GivensSequence, or (GivensSequence, ndarray)
        Fewer than n_factors factors if every off-diagonal entry is already below
        ``eps * ||L||_F``.

    Raises
    ------
    ValueError
        If L is not a finite, square, symmetric matrix of size >= 2, or n_factors is not a
        non-negative integer.

    Examples
    --------
    >>> import numpy as np, optkern
    >>> L = np.array([[2.0, -1, 0], [-1, 2, -1], [0, -1, 2]])
    >>> seq, lam = optkern.givens.jacobi(L, 20, return_eigenvalues=True)
    >>> V = seq.to_dense()
    >>> np.allclose(V @ np.diag(lam) @ V.T, L), np.allclose(np.sort(lam), np.linalg.eigvalsh(L))
    (True, True)
    """
    if callback is not None and not callable(callback):
        from optkern._validation import fail

        fail("callback", "a callable or None", repr(callback))
    progress = _checks.check_flag(progress, "progress")
    return_eigenvalues = _checks.check_flag(return_eigenvalues, "return_eigenvalues")
    a = _checks.square_matrix(L, "L")
    _checks.check_symmetric(a, "L")
    d = a.shape[0]
    n = _checks.factor_count(n_factors, d)
    suffix = "32" if a.dtype == np.float32 else "64"
    engine = getattr(_backend._core.givens, "GivensJacobi" + suffix)(a)
    seq = drive(engine, n, d, a.dtype, "givens jacobi", callback, progress)
    if not return_eigenvalues:
        return seq
    if callback is None:
        return seq, np.diagonal(engine.matrix()).copy()
    # A callback can end the sequence before the steps the engine has already run: the
    # eigenvalues are then those of the returned factors, diag(V^T L V) from V^T L and V^T.
    rotated = seq.apply(a, transpose=True)
    vt = seq.apply(np.eye(d, dtype=a.dtype), transpose=True)
    return seq, np.einsum("kj,kj->k", rotated, vt)
