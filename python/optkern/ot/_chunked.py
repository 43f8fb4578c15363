"""Sinkhorn in chunks of iterations, for a callback or a progress report between them.

A run is resumed exactly from its column potentials g (the kernel's warm start): the next
f-update absorbs any constant shift of g, so chunks give the iterates of one long run up to
rounding. Each chunk redoes the kernel's setup and its final statistics (passes over M and
the plan with exp and log: measured 7 to 30 iterations' worth for n = 200 to 3000). The first
chunk is short (10 iterations, so its time is mostly that fixed cost); later chunks are sized
to take 30 times as long, within 0.1 to 2 s, which keeps the overhead near 3% for runs longer
than a few chunks. Problems that have converged are not run again.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from optkern import _backend
from optkern._progress import ProgressBar, callback_stops, next_chunk
from optkern.ot._checks import Problem
from optkern.ot._result import make_result

FIRST_CHUNK = 10  # iterations; a multiple of the kernel's check interval
CHECK_EVERY = 10
FIXED_COST_SHARE = 30  # later chunks take this many times the first one ...
CHUNK_RANGE = (0.1, 2.0)  # ... within these many seconds


def sinkhorn(p: Problem, reg: float, tol: float, max_iter: int, method_code: int,
             callback: Callable[[Any], Any] | None, bar: ProgressBar) -> Any:
    B, m, n = p.batch, p.m, p.n
    plan = np.empty((B, m, n), p.dtype)
    f = np.empty((B, m), p.dtype)
    g = np.empty((B, n), p.dtype)
    n_iter = np.zeros(B, np.int64)
    error, cost, value = np.zeros(B), np.zeros(B), np.zeros(B)
    converged = np.zeros(B, bool)
    method = np.full(B, method_code, np.int64)
    stats = (n_iter, error, cost, value, converged, method)
    active = np.arange(B)
    done, chunk = 0, FIRST_CHUNK
    while active.size and done < max_iter:
        iters = min(chunk, max_iter - done)
        everyone = active.size == B  # write straight into the outputs, no gathering

        def rows(x: np.ndarray) -> np.ndarray:
            return x if x.shape[0] == 1 or everyone else x[active]

        start = rows(p.init_g) if done == 0 and p.init_g is not None else (
            None if done == 0 else rows(g).copy())  # g is also written by this call
        k = active.size
        out = (plan, f, g) if everyone else (np.empty((k, m, n), p.dtype),
                                             np.empty((k, m), p.dtype), np.empty((k, n), p.dtype))
        t0 = time.perf_counter()
        chunk_stats = _backend._core.ot.sinkhorn(rows(p.M), rows(p.a), rows(p.b), start, reg, tol,
                                                 iters, CHECK_EVERY, method_code, 0, *out)
        elapsed = time.perf_counter() - t0
        if not everyone:
            plan[active], f[active], g[active] = out
        for total, part in zip(stats, chunk_stats):
            if total is n_iter:
                total[active] += part
            else:
                total[active] = part
        done += iters
        active = active[~converged[active]]
        bar.update_to(done, f"error {error.max(initial=0.0):.2g}")
        # copies: the callback may write into what it gets (g is the resume state)
        if callback is not None and callback_stops(callback(make_result(
                p.batch_shape, m, n, plan.copy(), f.copy(), g.copy(),
                tuple(s.copy() for s in stats)))):
            bar.close("stopped by the callback")
            break
        if done == iters:  # after the first chunk: its time bounds the fixed cost of a chunk
            target = min(max(FIXED_COST_SHARE * elapsed, CHUNK_RANGE[0]), CHUNK_RANGE[1])
        chunk = next_chunk(iters, elapsed, CHECK_EVERY, target)
    return make_result(p.batch_shape, m, n, plan, f, g, stats)
