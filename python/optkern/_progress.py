"""Progress reports for long runs: a tqdm bar when tqdm is installed, else one line on stderr.

The long-running calls (``givens.factorize``, ``givens.jacobi``, ``optimize.minimize``,
``optimize.minimize_batch``, ``ot.sinkhorn``) take ``progress=True`` and report through
:class:`ProgressBar`. tqdm is imported only when a bar is shown, so ``import optkern`` never
pulls it in.
"""

from __future__ import annotations

import importlib
import sys
import time
from typing import Any, Callable

import numpy as np

from optkern._validation import check_bool, fail

__all__ = ["ProgressBar", "check_callback", "check_progress", "next_chunk"]

# The plain line is rewritten at most this often (seconds); the last state is always shown.
PLAIN_INTERVAL = 0.1
# Runs reported in chunks aim at chunks of this many seconds: often enough for a person
# watching, rarely enough that each chunk's fixed cost stays small.
CHUNK_SECONDS = 0.1


def check_progress(progress: Any) -> bool:
    """``progress`` as a bool (True or False only, NumPy bools included)."""
    return check_bool(progress, "progress")


def check_callback(callback: Any) -> Callable[..., Any] | None:
    """``callback`` if it is None or callable (ValueError naming it otherwise)."""
    if callback is not None and not callable(callback):
        fail("callback", "a callable or None", repr(callback))
    return callback


def callback_stops(answer: Any) -> bool:
    """Whether a callback's return value asks to stop the run: True, or NumPy's True
    (``np.True_``, as ``x.max() > 1`` returns); every other value continues it."""
    return isinstance(answer, (bool, np.bool_)) and bool(answer)


def next_chunk(chunk: int, elapsed: float, multiple: int = 1,
               seconds: float = CHUNK_SECONDS) -> int:
    """The size of the next chunk of a run reported in chunks: the work that should take
    about `seconds` at the rate of the last chunk (`chunk` units in `elapsed` seconds), at
    least the last size, at most a thousand times more, rounded up to `multiple`."""
    if elapsed <= 0:
        grown = 1000 * chunk
    else:
        grown = min(1000 * chunk, int(chunk * seconds / elapsed))
    grown = max(chunk, grown)
    return -(-grown // multiple) * multiple


def _tqdm() -> Any:
    """tqdm's bar class, or None when tqdm is not installed."""
    try:
        return importlib.import_module("tqdm").tqdm
    except ImportError:
        return None


class ProgressBar:
    """Shows how far a run has got: ``done`` of ``total`` units (total None: a count only).

    With ``enabled=False`` every method does nothing, so callers need no branches. Use as a
    context manager, or call :meth:`close` at the end.

    Parameters
    ----------
    total : int or None
        The units of the whole run (None when only an upper bound or nothing is known).
    desc : str
        What runs, e.g. ``"givens l1"``.
    unit : str
        The name of one unit, e.g. ``"factors"``.
    enabled : bool
        Whether anything is shown.

    Examples
    --------
    >>> from optkern._progress import ProgressBar
    >>> with ProgressBar(3, "demo", "steps", enabled=False) as bar:
    ...     for k in range(3):
    ...         bar.update_to(k + 1)
    >>> bar.done
    3
    """

    def __init__(self, total: int | None, desc: str, unit: str, enabled: bool = True):
        self.total = total
        self.desc = desc
        self.unit = unit
        self.enabled = enabled
        self.done = 0
        self._postfix = ""
        self._start = time.perf_counter()
        self._last_write = -float("inf")
        self._bar = None
        self._closed = False
        if enabled:
            tqdm = _tqdm()
            if tqdm is not None:
                self._bar = tqdm(total=total, desc=desc, unit=f" {unit}", file=sys.stderr,
                                 leave=True, dynamic_ncols=True)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def update_to(self, done: int, postfix: str = "") -> None:
        """Record that ``done`` units are finished (absolute, not an increment)."""
        self.done = int(done)
        self._postfix = postfix
        if not self.enabled or self._closed:
            return
        if self._bar is not None:
            if postfix:
                self._bar.set_postfix_str(postfix, refresh=False)
            self._bar.update(self.done - self._bar.n)
            return
        now = time.perf_counter()
        if now - self._last_write >= PLAIN_INTERVAL:
            self._write_line("")
            self._last_write = now

    def close(self, note: str = "") -> None:
        """Show the final state (with ``note``, e.g. why the run stopped) and end the line."""
        if not self.enabled or self._closed:
            return
        self._closed = True
        if self._bar is not None:
            if note:
                self._bar.set_postfix_str(", ".join(s for s in (self._postfix, note) if s),
                                          refresh=False)
            self._bar.close()
            return
        self._write_line(f" ({note})" if note else "", end="\n")

    def _write_line(self, note: str, end: str = "") -> None:
        of = f"/{self.total}" if self.total is not None else ""
        elapsed = time.perf_counter() - self._start
        extra = f", {self._postfix}" if self._postfix else ""
        sys.stderr.write(f"\r{self.desc}: {self.done}{of} {self.unit}, {elapsed:.1f} s"
                         f"{extra}{note}{end}")
        sys.stderr.flush()
