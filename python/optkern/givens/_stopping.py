"""The signed permutation of a factorization, its error, and stopping by tolerance.

After N steps the working matrix is ``W = G_N^T ... G_1^T U``. For a signed permutation P,
``||U - G_1 ... G_N P||_F = ||W - P||_F`` (the rotations are orthogonal), so the best P is the
one that maximises ``sum_b |W[perm[b], b]|`` (a linear assignment on ``|W|``), with
``signs[b] = sign W[perm[b], b]``: the same P that :func:`symmetrized_frobenius` finds for U
against the product of the rotations.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ToleranceStop", "normalized_error", "signed_permutation"]


def signed_permutation(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(perm, signs) maximising ``sum_b |w[perm[b], b]|``.

    When the largest entry of every column is in a different row, that choice is optimal (it
    attains the bound ``sum_b max_a |w[a, b]|``): the usual case once W is near a signed
    permutation, and O(d^2). Otherwise a linear assignment (SciPy, O(d^3)); without SciPy a
    greedy assignment by decreasing ``|w|``.
    """
    d = w.shape[0]
    a = np.abs(w)
    rows = a.argmax(axis=0)
    if d and np.bincount(rows, minlength=d).max() > 1:
        try:
            from scipy.optimize import linear_sum_assignment
        except ImportError:  # pragma: no cover - scipy is a test dependency
            rows = _greedy_assignment(a)
        else:
            r, c = linear_sum_assignment(a, maximize=True)
            rows = np.empty(d, dtype=np.int64)
            rows[c] = r
    rows = rows.astype(np.int64)
    signs = np.where(w[rows, np.arange(d)] < 0, -1, 1).astype(np.int8)
    return rows, signs


def _greedy_assignment(a: np.ndarray) -> np.ndarray:
    d = a.shape[0]
    rows = np.full(d, -1, dtype=np.int64)
    used = np.zeros(d, dtype=bool)
    for flat in np.argsort(-a, axis=None, kind="stable"):
        r, c = divmod(int(flat), d)
        if rows[c] < 0 and not used[r]:
            rows[c] = r
            used[r] = True
    return rows


def normalized_error(w: np.ndarray) -> float:
    """``min_P ||W - P||_F / sqrt(d)`` over signed permutations P."""
    d = w.shape[0]
    rows, signs = signed_permutation(w)
    diff = np.array(w, dtype=np.float64, copy=True)
    diff[rows, np.arange(d)] -= signs
    return float(np.linalg.norm(diff)) / math.sqrt(d)


class ToleranceStop:
    """Tracks W along a factorization and finds the first step whose error is <= tol.

    Called after each chunk of steps with the factors so far; returns None while the error
    after the chunk is above tol, else the shortest prefix length within the chunk whose error
    is at most tol (by bisection, since the error of a greedy sequence decreases almost
    monotonically; the prefix returned always meets tol). Costs O(d^2) per chunk plus
    O(chunk d) to advance W.
    """

    def __init__(self, u: np.ndarray, tol: float) -> None:
        self.w = np.array(u, dtype=np.float64, copy=True)
        self.d = u.shape[0]
        self.tol = tol

    def initially_met(self) -> bool:
        return normalized_error(self.w) <= self.tol

    def _advance(self, i: np.ndarray, j: np.ndarray, theta: np.ndarray, start: int,
                 stop: int) -> np.ndarray:
        from optkern.givens._sequence import GivensSequence

        chunk = GivensSequence(i[start:stop], j[start:stop], theta[start:stop], self.d)
        return chunk.apply(self.w, transpose=True)

    def __call__(self, i: np.ndarray, j: np.ndarray, theta: np.ndarray, start: int,
                 stop: int) -> int | None:
        if stop <= start:
            return None
        w_end = self._advance(i, j, theta, start, stop)
        if normalized_error(w_end) > self.tol:
            self.w = w_end
            return None
        lo, hi = start, stop  # error above tol after lo steps, at most tol after hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if normalized_error(self._advance(i, j, theta, start, mid)) <= self.tol:
                hi = mid
            else:
                lo = mid
        return hi
