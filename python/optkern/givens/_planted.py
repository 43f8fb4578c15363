"""planted: random products of K Givens rotations, the paper's K-planted distribution."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optkern._validation import MAX_ELEMENTS, check_number, fail
from optkern.givens._checks import check_flag, generator
from optkern.givens._sequence import GivensSequence

__all__ = ["planted"]


def planted(d: int, k: int, rng: Any = None, *, dtype: Any = np.float64,
            return_sequence: bool = False) -> Any:
    """A K-planted orthogonal matrix ``U = G_1 ... G_K`` (Frerix & Bruna, section 7).

    Each factor rotates a plane (i, j) drawn uniformly among the ``d (d - 1) / 2`` planes,
    with replacement, by an angle uniform in ``[0, 2 pi)``. ``K = d log2(d)`` factors already
    give a dense matrix.

    Parameters
    ----------
    d : int
        Size, d >= 2.
    k : int
        Number of factors, k >= 0.
    rng : numpy.random.Generator or seed, optional
        Randomness, passed through ``numpy.random.default_rng``.
    dtype : float32 or float64
        The result's dtype (the product is formed in this dtype).
    return_sequence : bool
        Also return the planted factors as a :class:`GivensSequence`.

    Returns
    -------
    ndarray, shape (d, d), or (ndarray, GivensSequence)
        The orthogonal matrix U in ``dtype``, and with ``return_sequence=True`` also the
        factors that form it (``seq.to_dense()`` equals U).

    Raises
    ------
    ValueError
        If d < 2, k < 0, either is not an integer, or dtype is not float32 or float64.

    Examples
    --------
    >>> import numpy as np
    >>> from optkern.givens import planted
    >>> U, seq = planted(8, 5, np.random.default_rng(1), return_sequence=True)
    >>> len(seq), bool(np.allclose(U @ U.T, np.eye(8))), bool(np.allclose(seq.to_dense(), U))
    (5, True, True)
    """
    d = int(check_number(d, "d", low=2, high=math.isqrt(MAX_ELEMENTS), integer=True))
    k = int(check_number(k, "k", low=0, high=MAX_ELEMENTS, integer=True))
    return_sequence = check_flag(return_sequence, "return_sequence")
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        fail("dtype", "float32 or float64", repr(dtype))
    if dtype not in (np.float32, np.float64):
        fail("dtype", "float32 or float64", repr(dtype))
    gen = generator(rng)
    first = gen.integers(0, d, size=k)
    second = gen.integers(0, d - 1, size=k)
    second += second >= first  # uniform over ordered pairs of distinct rows
    theta = gen.uniform(0.0, 2.0 * np.pi, size=k).astype(dtype)
    seq = GivensSequence(np.minimum(first, second), np.maximum(first, second), theta, d)
    U = seq.to_dense()
    return (U, seq) if return_sequence else U
