"""What optkern.tv's functions return with ``return_info=True``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class DenoiseResult:
    """What :func:`denoise` returns with ``return_info=True``.

    Attributes
    ----------
    y : array, shape (..., n)
        The denoised signals (the same kind of array, dtype and device as x).
    nit : ndarray of int64, shape (...)
        Iterations each signal took (0 for the exact method).
    change : ndarray of float64, shape (...)
        Each signal's last relative change max|u_new − u| / max|u_new| (0 for the exact
        method).
    converged : ndarray of bool, shape (...)
        ``change <= tol`` (always True for the exact method).
    method : str
        "exact" or "irls".

    Examples
    --------
    >>> import numpy as np, optkern
    >>> x = np.array([[0.0, 1.0, 0.0, 1.0], [3.0, 3.0, 0.0, 0.0]])
    >>> info = optkern.tv.denoise(x, 0.25, method="irls", return_info=True)
    >>> info.method, info.y.shape, info.nit.shape, bool(info.converged.all())
    ('irls', (2, 4), (2,), True)
    >>> exact = optkern.tv.denoise(x, 0.25, return_info=True)
    >>> exact.y.tolist(), exact.nit.tolist()
    ([[0.25, 0.5, 0.5, 0.75], [2.875, 2.875, 0.125, 0.125]], [0, 0])
    """

    y: Any
    nit: np.ndarray
    change: np.ndarray
    converged: np.ndarray
    method: str


@dataclass(frozen=True)
class Denoise2DResult:
    """What :func:`denoise_2d` returns with ``return_info=True``.

    Attributes
    ----------
    y : ndarray, shape (..., h, w)
        The denoised images (x's dtype).
    nit : ndarray of int64, shape (...)
        Iterations each image took.
    gap : ndarray of float64, shape (...)
        Each image's final duality gap relative to its objective: the objective of y is
        within ``gap`` (relative) of the optimum.
    converged : ndarray of bool, shape (...)
        ``gap <= tol``.
    isotropic : bool
        Which TV was solved.

    Examples
    --------
    >>> import numpy as np, optkern
    >>> img = np.zeros((8, 8)); img[2:6, 2:6] = 1.0
    >>> info = optkern.tv.denoise_2d(img, 0.1, return_info=True)
    >>> bool(info.converged), bool(info.gap <= 1e-6), info.y.shape
    (True, True, (8, 8))
    """

    y: np.ndarray
    nit: np.ndarray
    gap: np.ndarray
    converged: np.ndarray
    isotropic: bool


def make_result(y: Any, nit: np.ndarray, change: np.ndarray, method: str,
                tol: float) -> DenoiseResult:
    converged = change <= tol if method == "irls" else np.ones(change.shape, bool)
    return DenoiseResult(y=y, nit=nit, change=change, converged=converged, method=method)
