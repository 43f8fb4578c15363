"""symmetrized_frobenius: the error metric of Frerix & Bruna (eq. 3)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optkern._validation import as_float_array, fail
from optkern.givens._checks import check_flag

__all__ = ["symmetrized_frobenius"]


def symmetrized_frobenius(U: Any, V: Any, *, normalize: bool = False) -> float:
    """``min over signed permutations P of ||U - V P||_F`` (Frerix & Bruna, eq. 3).

    Approximations are only defined up to the order and signs of their columns; this is the
    error that forgives both.

    Parameters
    ----------
    U, V : array_like, shape (n, d)
        Matrices of the same shape (orthogonal ones in the paper, but any real matrices work).
    normalize : bool
        Divide by ``sqrt(d)``, as the paper reports errors (eq. 16); the error of orthogonal
        matrices then lies in ``[0, sqrt(2))``.

    Returns
    -------
    float
        The error, >= 0 (divided by ``sqrt(d)`` with ``normalize=True``).

    Raises
    ------
    ValueError
        If U or V is not a finite 2-dimensional array, or their shapes differ.
    ImportError
        Without SciPy (``pip install scipy``).

    Notes
    -----
    ``||U - V P||_F^2 = ||U||^2 + ||V||^2 - 2 sum_k s_k <u_k, v_sigma(k)>`` over permutations
    sigma and signs s, so the best P solves a linear assignment problem on ``|V^T U|``
    (``scipy.optimize.linear_sum_assignment``, O(d^3)) with ``s_k`` the sign of each matched
    product. The error is then computed from ``U - V P`` itself, not from that expansion, so it
    stays accurate to rounding when U and V P agree.

    Examples
    --------
    >>> import numpy as np
    >>> from optkern.givens import symmetrized_frobenius
    >>> U = np.linalg.qr(np.random.default_rng(0).standard_normal((5, 5)))[0]
    >>> V = -U[:, [3, 0, 4, 1, 2]]            # the same columns, permuted and negated
    >>> symmetrized_frobenius(U, V)
    0.0
    >>> H = np.array([[1, 1], [1, -1]]) / 2**0.5
    >>> round(symmetrized_frobenius(np.eye(2), H), 6)   # sqrt(4 - 2 sqrt(2))
    1.082392
    """
    normalize = check_flag(normalize, "normalize")
    u = as_float_array(U, "U", np.float64, ndim=2)
    v = as_float_array(V, "V", np.float64, ndim=2)
    if u.shape != v.shape:
        fail("V", f"the shape of U {u.shape}", f"shape {v.shape}")
    d = u.shape[1]
    if d == 0:
        return 0.0
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError as exc:  # pragma: no cover - scipy is a test dependency
        raise ImportError("symmetrized_frobenius needs SciPy (pip install scipy)") from exc
    # m[a, b] = <v_a, u_b>, of U and V scaled by powers of two (exactly) so that it cannot
    # overflow: only the order of its entries matters
    m = _scaled(v).T @ _scaled(u)
    rows, cols = linear_sum_assignment(-np.abs(m))
    matched = np.empty(d, dtype=np.int64)  # column of V matched to column b of U
    matched[cols] = rows
    signs = np.where(m[matched, np.arange(d)] < 0, -1.0, 1.0)
    diff = u - v[:, matched] * signs
    top = float(np.abs(diff).max(initial=0.0))
    if 0 < top < math.inf:  # the norm of diff / top: no overflow for entries near 1e308
        error = top * float(np.linalg.norm(diff / top))
    else:
        error = float(np.linalg.norm(diff))
    return error / math.sqrt(d) if normalize else error


def _scaled(x: np.ndarray) -> np.ndarray:
    top = float(np.abs(x).max(initial=0.0))
    return np.ldexp(x, -np.frexp(top)[1]) if top > 0 else x
