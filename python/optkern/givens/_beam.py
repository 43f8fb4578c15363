"""factorize(method="beam"): beam search over Algorithm 1 (the C++ engine GivensBeamL1)."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from optkern import _backend
from optkern._progress import ProgressBar
from optkern.givens._driver import GivensStep
from optkern.givens._sequence import GivensSequence
from optkern.givens._stopping import ToleranceStop, normalized_error

__all__ = ["factorize_beam"]


def factorize_beam(u: np.ndarray, n: int, width: int,
                   callback: Callable[[GivensStep], Any] | None, progress: bool,
                   tol: float | None) -> GivensSequence:
    """The best beam's sequence after up to n steps (fewer if tol, convergence or callback).

    The best beam's history changes as the search goes, so the callback sees the steps of the
    final sequence once the search is over, and tol is checked on the best beam after each
    chunk of steps (then its first prefix that meets tol is kept, found by bisection).
    """
    d = u.shape[0]
    suffix = "32" if u.dtype == np.float32 else "64"
    engine = getattr(_backend._core.givens, "GivensBeamL1" + suffix)(u, int(width), 0)
    reason = "n_factors"
    done = 0
    keep: int | None = None
    if tol is not None and normalized_error(u.astype(np.float64)) <= tol:
        n, reason = 0, "tol"
    chunk = min(n, 16) if (progress or tol is not None) else n
    with ProgressBar(n, f"givens beam (width {width})", "factors", enabled=progress) as bar:
        while done < n:
            want = min(chunk, n - done)
            t0 = time.perf_counter()
            got = int(engine.advance(want))
            elapsed = time.perf_counter() - t0
            done += got
            bar.update_to(done)
            if tol is not None and normalized_error(engine.matrix().astype(np.float64)) <= tol:
                reason = "tol"
                i, j, theta, _ = engine.best_path()
                keep = ToleranceStop(u, tol)(i, j, theta, 0, done)
                break
            if got < want:
                reason = "converged"
                break
            if elapsed < 0.05:
                chunk *= 2
        bar.close(f"stopped: {reason}")
    i, j, theta, score = engine.best_path()
    if keep is not None:
        done = keep
    if callback is not None:
        for k in range(done):
            if callback(GivensStep(k, int(i[k]), int(j[k]), theta[k].item(),
                                   float(score[k]))) is True:
                done, reason = k + 1, "callback"
                break
    return GivensSequence(i[:done], j[:done], theta[:done], d, stopped_by=reason)
