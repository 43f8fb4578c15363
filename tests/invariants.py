"""Invariants every fuzz suite asserts on every accepted call.

Converged implies finite: a function that reports convergence (``converged``, ``success``)
never reports it for a result with NaN or Inf in it. Where a result cannot be represented,
the function raises a ValueError saying so instead (issue 13, items 5 and 6).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def assert_converged_implies_finite(converged: Any, **outputs: Any) -> None:
    """For each problem (the shape of `converged`) that converged, every named output has
    only finite values. Outputs have the batch shape of `converged` followed by any core
    dimensions (scalars per problem included)."""
    flags = np.asarray(converged, dtype=bool)
    if not flags.any():
        return
    for name, value in outputs.items():
        x = np.asarray(value)
        assert x.shape[:flags.ndim] == flags.shape, f"{name}: shape {x.shape} vs {flags.shape}"
        per_problem = x.reshape(flags.shape + (-1,))
        with np.errstate(invalid="ignore"):
            finite = np.isfinite(per_problem).all(axis=-1) if per_problem.size else \
                np.ones(flags.shape, bool)
        bad = flags & ~finite
        assert not bad.any(), (f"{name}: NaN or Inf reported as converged (problem "
                               f"{np.argwhere(bad)[0].tolist()})")


def unrepresentable(outcome: Any) -> bool:
    """Whether a call refused a result it cannot represent (a ValueError saying so)."""
    return isinstance(outcome.error, ValueError) and "representable" in str(outcome.error)
