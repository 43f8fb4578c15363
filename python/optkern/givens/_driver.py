"""Running a factorization engine: chunks of steps, the callback, progress, the result."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from optkern._progress import ProgressBar, callback_stops
from optkern.givens._sequence import GivensSequence
from optkern.givens._stopping import ToleranceStop, signed_permutation

__all__ = ["GivensStep", "drive", "run_to_stop", "with_permutation"]


@dataclass(frozen=True)
class GivensStep:
    """One step of a factorization, as passed to ``callback``.

    Attributes
    ----------
    index : int
        The factor's position in the sequence (0 for the first).
    i, j : int
        Its rows, ``i < j``.
    theta : float
        Its angle.
    decrease : float
        How much the step decreased the method's objective: the L1 norm (``"l1"``), the
        squared Frobenius distance to the identity (``"greedy"``), the magnitude of the
        entry it zeroed (``"elimination"``, :func:`~optkern.givens.jacobi`).

    Examples
    --------
    >>> import numpy as np
    >>> from optkern.givens import factorize, planted
    >>> steps = []
    >>> seq = factorize(planted(6, 4, np.random.default_rng(0)), 3, callback=steps.append)
    >>> [s.index for s in steps], all(s.i < s.j and s.decrease >= 0 for s in steps)
    ([0, 1, 2], True)
    >>> (steps[0].i, steps[0].j, steps[0].theta) == seq[0]
    True
    """

    index: int
    i: int
    j: int
    theta: float
    decrease: float


# The rule that ended a factorization, as GivensSequence.stopped_by says it, for each reason
# the progress line shows.
STOPPED_BY = {"n_factors": "n_factors", "tol": "tol", "no improving pair": "converged",
              "callback": "callback"}


def drive(engine: Any, n: int, d: int, dtype: np.dtype, label: str,
          callback: Callable[[GivensStep], Any] | None, progress: bool,
          stop: Callable[..., int | None] | None = None) -> GivensSequence:
    """Run `engine` for up to n steps and collect its factors.

    Without a callback, progress report or stop rule the engine runs in one call. Otherwise it
    runs in chunks that grow until each takes about 0.1 s; the callback then sees every step
    in order and a True return ends the sequence at that step (steps the engine had already
    computed after it are dropped). `stop(i, j, theta, start, end)` is asked after each chunk
    (steps start to end - 1) and returns None or the number of steps to keep (stopped_by
    "tol"); the callback sees only the steps kept. Progress is a tqdm bar when tqdm is
    installed, else a line on stderr (optkern._progress).
    """
    i = np.empty(n, np.int64)
    j = np.empty(n, np.int64)
    theta = np.empty(n, dtype)
    score = np.empty(n, np.float64)
    done = 0
    chunked = callback is not None or progress or stop is not None
    chunk = min(n, 16) if chunked else n
    with ProgressBar(n, label, "factors", enabled=progress) as bar:
        while done < n:
            want = min(chunk, n - done)
            t0 = time.perf_counter()
            got = int(engine.run(want, i, j, theta, score, done))
            elapsed = time.perf_counter() - t0
            keep = stop(i, j, theta, done, done + got) if stop is not None else None
            if callback is not None:
                for k in range(done, done + got if keep is None else keep):
                    step = GivensStep(k, int(i[k]), int(j[k]), theta[k].item(), float(score[k]))
                    if callback_stops(callback(step)):
                        return _finish(i, j, theta, k + 1, d, bar, "callback")
            if keep is not None:
                return _finish(i, j, theta, keep, d, bar, "tol")
            done += got
            bar.update_to(done)
            if got < want:
                return _finish(i, j, theta, done, d, bar, "no improving pair")
            if elapsed < 0.05:
                chunk *= 2
        return _finish(i, j, theta, done, d, bar, "n_factors")


def _finish(i, j, theta, n, d, bar: ProgressBar, reason: str) -> GivensSequence:
    bar.update_to(n)
    bar.close(f"stopped: {reason}")
    return GivensSequence(i[:n], j[:n], theta[:n], d, stopped_by=STOPPED_BY[reason])


def run_to_stop(engine: Any, u: np.ndarray, n: int, label: str,
                callback: Callable[[GivensStep], Any] | None, progress: bool,
                tol: float | None) -> GivensSequence:
    """Drive `engine` on the host copy u of U until n factors, tol, convergence or the
    callback; then attach the signed permutation that fits U best."""
    d = u.shape[0]
    stop = None
    if tol is not None:
        stop = ToleranceStop(u, tol)
        if stop.initially_met():
            seq = GivensSequence(np.zeros(0, np.int64), np.zeros(0, np.int64),
                                 np.zeros(0, u.dtype), d, stopped_by="tol")
            return with_permutation(seq, u)
    seq = drive(engine, n, d, u.dtype, label, callback, progress, stop)
    return with_permutation(seq, u)


def with_permutation(seq: GivensSequence, u: np.ndarray) -> GivensSequence:
    """seq with the signed permutation P nearest ``G^T U`` (the best fit of U by G P)."""
    w = seq.apply(np.asarray(u, dtype=np.float64), transpose=True)
    perm, signs = signed_permutation(w)
    return GivensSequence(seq.i, seq.j, seq.theta, seq.dim, perm, signs, seq.stopped_by)
