"""The CPU path of optkern.givens.factorize: the C++ core's engines (L1 coordinate descent,
greedy Frobenius, structured elimination) or the beam search, driven to the stopping rule."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from optkern import _backend
from optkern.givens import _checks
from optkern.givens._beam import factorize_beam
from optkern.givens._driver import GivensStep, run_to_stop, with_permutation
from optkern.givens._sequence import GivensSequence


def factorize(U: Any, method: str, n_factors: Any, width: int, layered: bool,
              callback: Callable[[GivensStep], Any] | None, progress: bool, check: bool,
              tol: float | None) -> GivensSequence:
    u = _checks.square_matrix(U, "U")
    d = u.shape[0]
    if check:
        _checks.check_orthogonal(u, "U")
    n = _checks.factor_count(n_factors, d, tol, method)
    suffix = "32" if u.dtype == np.float32 else "64"
    core = _backend._core.givens
    if method == "beam":
        return with_permutation(factorize_beam(u, n, width, callback, progress, tol), u)
    if method == "l1":
        engine = getattr(core, "GivensL1Descent" + suffix)(u, 0)
        engine.set_layered(layered)
    elif method == "greedy":
        engine = getattr(core, "GivensFrobeniusGreedy" + suffix)(u)
    else:
        engine = getattr(core, "GivensElimination" + suffix)(u)
        n = min(n, d * (d - 1) // 2)
    return run_to_stop(engine, u, n, f"givens {method}", callback, progress, tol)
