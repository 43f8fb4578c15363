"""The CPU path of optkern.ot.sinkhorn: the C++ core's batched solver (optkern._core.ot) on
checked, C-contiguous problems (optkern.ot._checks.Problem). The callback/progress variant,
which runs the same kernel in chunks of iterations, is optkern.ot._chunked."""

from __future__ import annotations

import numpy as np

from optkern import _backend
from optkern.ot import _checks
from optkern.ot._result import SinkhornResult, make_result


def sinkhorn(p: _checks.Problem, reg: float, tol: float, max_iter: int,
           method_code: int) -> SinkhornResult:
    B, m, n = p.batch, p.m, p.n
    plan = np.empty((B, m, n), p.dtype)
    f = np.empty((B, m), p.dtype)
    g = np.empty((B, n), p.dtype)
    if B:
        stats = _backend._core.ot.sinkhorn(p.M, p.a, p.b, p.init_g, reg, tol, max_iter, 10,
                                           method_code, 0, plan, f, g)
    else:
        stats = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0),
                 np.zeros(0, bool), np.zeros(0, np.int64))
    return make_result(p.batch_shape, m, n, plan, f, g, stats)
