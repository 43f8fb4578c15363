"""epsilon-scaling for :func:`optkern.ot.sinkhorn` (``eps_scaling=factor``).

At a small reg the plain Sinkhorn iteration contracts slowly (its rate degrades like
exp(-max|M| / reg)): a run from zero potentials can take many thousands of iterations. As in
GeomLoss (``scaling``) and OTT (``Epsilon(decay=...)``), a sequence of problems is solved
instead, from reg_0 = max|M| (where Sinkhorn converges in a few iterations) down to the
target reg, each stage multiplying reg by ``factor`` and starting from the previous stage's
column potentials g (a warm start that stays valid across regs: the potentials have the
units of the cost). Intermediate stages are solved loosely (their only use is the warm
start); the last one to the requested tolerance. Each stage picks its method as "auto" does
(the kernel domain while exp(-M/reg) fits, the log domain below).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from optkern import _backend
from optkern._validation import check_number
from optkern.ot import _checks
from optkern.ot._result import make_result

# Intermediate stages stop at this marginal error (relative to the mass), or at tol if looser.
STAGE_TOL = 1e-3


def check_factor(eps_scaling: Any) -> float:
    factor = check_number(eps_scaling, "eps_scaling", low=0.0, high=1.0, low_open=True,
                          high_open=True)
    return float(factor)


def schedule(reg0: float, reg: float, factor: float) -> list[float]:
    """reg0, reg0 * factor, ... while above reg, then reg itself (at least one stage)."""
    regs = []
    r = reg0
    while r > reg:
        regs.append(r)
        r *= factor
    regs.append(reg)
    return regs


def sinkhorn(p: _checks.Problem, reg: float, tol: float, max_iter: int, method_code: int,
             factor: float) -> Any:
    """The SinkhornResult of the last stage, with n_iter the total over the stages."""
    B, m, n = p.batch, p.m, p.n
    plan = np.empty((B, m, n), p.dtype)
    f = np.empty((B, m), p.dtype)
    g = np.empty((B, n), p.dtype)
    if not B:
        return make_result(p.batch_shape, m, n, plan, f, g,
                           (np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0),
                            np.zeros(0, bool), np.zeros(0, np.int64)))
    reg0 = float(np.abs(p.M).max())
    regs = schedule(max(reg0, reg), reg, factor)
    total = np.zeros(B, np.int64)
    start = p.init_g
    for r in regs[:-1]:
        budget = max_iter - 1 - int(total.max())  # one iteration is kept for the target
        if budget < 1:
            break
        _checks.check_cost(p.M, r)
        stats = _backend._core.ot.sinkhorn(p.M, p.a, p.b, start, r, max(tol, STAGE_TOL), budget,
                                           1, _backend._core.ot.SinkhornMethod.auto, 0, plan, f, g)
        total += np.asarray(stats[0])
        start = g.copy()
    stats = _backend._core.ot.sinkhorn(p.M, p.a, p.b, start, reg, tol, max_iter - int(total.max()),
                                       1, method_code, 0, plan, f, g)
    total += np.asarray(stats[0])
    stats = (total,) + tuple(stats[1:])
    return make_result(p.batch_shape, m, n, plan, f, g, stats)
