"""The CPU path of optkern.optimize.minimize_batch: the C++ core's batched loops, over native
Problems (in chunks when a callback or progress bar needs to be called between them) or a
Python objective evaluated for the whole batch at once."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from optkern import _backend, _threads
from optkern._progress import ProgressBar, callback_stops, next_chunk
from optkern._validation import as_float_array, fail
from optkern.optimize._checks import check_precision, to_settings
from optkern.optimize._coerce import ObjectiveCoercer
from optkern.optimize._result import CALLBACK_STOP, BatchResult, batch_result
from optkern.optimize._scipy_api import parse_bounds
from optkern.optimize.problems import Problem


def minimize_batch(fun: Any, x0: Any, native: bool, method: str, opts: dict, bounds: Any,
                   threads: int, callback: Callable[[BatchResult], Any] | None,
                   progress: bool) -> BatchResult:
    x = as_float_array(x0, "x0", ndim=2)
    if x.shape[1] == 0:
        fail("x0", "at least one variable per problem", f"shape {x.shape}")
    x = x.copy()
    opts = check_precision(opts, x.dtype)
    box = parse_bounds(bounds, x.shape[1], x.dtype, batch=x.shape[0])
    if box is not None:
        if method != "lbfgs":
            fail("bounds", f"None with method {method!r} (bounds need 'lbfgs' / 'L-BFGS-B')",
                 "bounds")
        opts["lower"], opts["upper"] = box
    if native:
        if x.shape[1] != fun.n:
            fail("x0", f"shape (B, {fun.n}) for {fun!r}", f"shape {x.shape}")
        if callback is None and not progress:
            out = _backend._core.optimize.minimize_problem_batch(fun.kind, fun.parameter, x,
                                                                 to_settings(opts), threads)
        else:
            with ProgressBar(x.shape[0], f"minimize_batch {method}", "problems",
                             enabled=progress) as bar:
                out = _native_in_chunks(fun, x, opts, threads, callback, bar)
    else:
        if method == "newton":
            fail("method", "'lbfgs', 'bfgs' or 'gd' with a Python objective ('newton' needs "
                 "the Hessians of a native Problem)", repr(method))
        coercer = ObjectiveCoercer(x.shape[1], x.dtype, jac_is_true=True, batch=x.shape[0])
        with ProgressBar(None, f"minimize_batch {method}", "evaluations",
                         enabled=progress) as bar:
            out = _backend._core.optimize.minimize_batch(_counted(fun, bar), coercer, x,
                                                         to_settings(opts), threads)
    return batch_result(x, *out)


def _counted(fun: Callable[..., Any], bar: ProgressBar) -> Callable[..., Any]:
    """fun, reporting each evaluation to the bar (fun itself when the bar is off)."""
    if not bar.enabled:
        return fun

    def counted(X: np.ndarray) -> Any:
        out = fun(X)
        bar.update_to(bar.done + 1)
        return out

    return counted


def _native_in_chunks(fun: Problem, x: np.ndarray, opts: dict, threads: int,
                      callback: Callable[[BatchResult], Any] | None,
                      bar: ProgressBar) -> tuple:
    """_core.optimize.minimize_problem_batch over chunks of rows of x (updated in place), each
    sized to take about 0.1 s, with the bar and the callback between chunks.
    Returns the outputs of the whole batch, as one call would."""
    core = _backend._core.optimize
    batch = x.shape[0]
    parts: list[tuple] = []
    done = 0
    chunk = 4 * (threads or _threads.get_num_threads())
    while done < batch:
        start, stop = done, min(batch, done + chunk)
        t0 = time.perf_counter()
        chunk_opts = dict(opts)
        if "lower" in opts:  # the bounds of these rows
            chunk_opts["lower"] = np.ascontiguousarray(opts["lower"][done:stop])
            chunk_opts["upper"] = np.ascontiguousarray(opts["upper"][done:stop])
        parts.append(core.minimize_problem_batch(fun.kind, fun.parameter, x[done:stop],
                                                 to_settings(chunk_opts), threads))
        done = stop
        bar.update_to(done)
        if callback is not None and done < batch:
            so_far = [np.concatenate(field) for field in zip(*parts)]
            # x[:done].copy(): x is the run's state, which the callback may not change
            if callback_stops(callback(batch_result(x[:done].copy(), *so_far))):
                parts.append(_not_started(fun, x[done:]))
                bar.close("stopped by the callback")
                break
        chunk = next_chunk(stop - start, time.perf_counter() - t0)
    return tuple(np.concatenate(field) for field in zip(*parts))


def _not_started(fun: Problem, x: np.ndarray) -> tuple:
    """The outputs for problems a callback stopped before they ran: status 99 at x0."""
    f, g = _backend._core.optimize.problem_value_grad(fun.kind, fun.parameter, x)
    rows = x.shape[0]
    return (np.full(rows, CALLBACK_STOP, np.int32), f, g, np.zeros(rows, np.int64),
            np.ones(rows, np.int64), np.zeros(rows, np.int64))
