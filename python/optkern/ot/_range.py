"""Sinkhorn near the ends of the floating-point range.

The problem is scale-invariant: (M / s, reg / s) has the same plan, and potentials, cost and
value divided by s. When max|M| or reg is near overflow (1e308 in float64), the kernel's
intermediate sums (f + g - M, the spread max M - min M) would overflow although the inputs
and the answer are representable; it then runs on the problem divided by a power of two
(exact), and the potentials, cost and value are scaled back. A result that cannot be
represented (a potential or the value beyond the dtype's range) is a ValueError that says
so, never a non-finite output reported as converged.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import numpy as np

from optkern import _arrays
from optkern._validation import fail
from optkern.ot._checks import Problem

# Above this magnitude (of max|M| or reg) the kernel runs on the scaled problem: far enough
# from overflow for sums of a few potentials and reg * log(weights) (log(1e-300) = -690).
_SAFE_EXPONENT = {np.dtype(np.float64): 960, np.dtype(np.float32): 100}


def problem_scale(p: Problem, reg: float) -> float:
    """1.0, or the power of two to divide M and reg by."""
    return scale_for(p.M, reg, p.dtype)


def scale_for(M: Any, reg: float, dtype: np.dtype) -> float:
    """1.0, or the power of two to divide M (any array kind, on its device) and reg by."""
    safe = 2.0 ** _SAFE_EXPONENT[np.dtype(dtype)]
    top = reg
    if math.prod(M.shape) > 0:  # two reductions and no temporary (|M| would double memory)
        xp = _arrays.namespace(M, "M")
        top = max(reg, float(xp.max(M)), -float(xp.min(M)))
    if top <= safe:
        return 1.0
    return math.ldexp(1.0, math.frexp(top)[1] - 1)


def scaled(p: Problem, scale: float) -> Problem:
    """The problem with M (and a warm start's g) divided by `scale`."""
    if scale == 1.0:
        return p
    init_g = None if p.init_g is None else divide(p.init_g, scale)
    return dataclasses.replace(p, M=divide(p.M, scale), init_g=init_g)


def divide(x: Any, scale: float) -> Any:
    """x / scale in x's dtype, on x's device (exact: scale is a power of two), computed in
    float64 since scale may exceed float32's range."""
    if scale == 1.0 or x is None:
        return x
    if isinstance(x, np.ndarray):
        return np.divide(x, scale, dtype=np.float64).astype(x.dtype)
    xp = _arrays.namespace(x)
    return xp.astype(xp.astype(x, xp.float64) / scale, x.dtype)


def _multiply(x: Any, scale: float) -> Any:
    """x * scale in x's dtype, on x's device (inf beyond the range: check_representable)."""
    if isinstance(x, np.ndarray):
        return np.multiply(x, scale, dtype=np.float64).astype(x.dtype)
    xp = _arrays.namespace(x)
    return xp.astype(xp.astype(x, xp.float64) * scale, x.dtype)


def unscaled(res: Any, scale: float) -> Any:
    """A SinkhornResult of the scaled problem as the result of the original one."""
    if scale == 1.0:
        return res
    with np.errstate(over="ignore"):  # a result beyond the range: check_representable
        f, g = _multiply(res.f, scale), _multiply(res.g, scale)
        cost = np.asarray(res.cost) * scale
        value = np.asarray(res.value) * scale
    return dataclasses.replace(res, f=f, g=g, cost=cost[()], value=value[()])


def scaled_callback(callback: Callable[[Any], Any] | None,
                    scale: float) -> Callable[[Any], Any] | None:
    if callback is None or scale == 1.0:
        return callback
    return lambda res: callback(unscaled(res, scale))


def check_representable(res: Any) -> Any:
    """res, unless an output that should be finite is not: a ValueError saying which.

    Where the kernel reports convergence, every output is finite (the fuzz suite checks
    this invariant); a potential or a value beyond the dtype's range cannot be returned."""
    dtype = np.dtype(_arrays.to_numpy(res.f[..., :0]).dtype)
    for name in ("f", "g", "plan"):
        if not _arrays.all_finite(getattr(res, name)):
            fail("M, reg", f"a problem whose potentials and plan are representable in {dtype} "
                 f"(|f|, |g| up to about max|M| + reg * |log(weights)|; the largest is "
                 f"{np.finfo(dtype).max:.3g}): scale M and reg down together, which scales "
                 "the potentials and leaves the plan as it is",
                 f"non-finite {name} (max|M| and reg near overflow)")
    for name in ("cost", "value"):
        if not np.isfinite(np.asarray(getattr(res, name))).all():
            fail("M, reg", f"a problem whose {name} is representable in float64 (the "
                 f"{name} scales with M and reg: scale both down together)",
                 f"a {name} beyond +-1.8e308")
    return res
