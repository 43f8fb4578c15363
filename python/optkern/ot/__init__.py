"""Entropic optimal transport: :func:`sinkhorn` (kernel or log domain, batched, CPU and GPU),
:func:`sinkhorn_cost` (the entropic OT value, with its envelope gradient) and
:func:`sinkhorn_vjp` (the exact gradient of the transport plan by implicit differentiation).

The problem, for a cost matrix M (m x n), marginals a (m) and b (n) of equal mass and reg > 0::

    minimise  <M, P> + reg <P, log P - 1>   subject to   P 1 = a,  P^T 1 = b.

Its solution is ``P_ij = exp((f_i + g_j - M_ij) / reg)`` for the dual potentials f and g.
``reg`` is the epsilon of POT and OTT (1/gamma in Gould's lecture notes).
"""

from __future__ import annotations

from optkern.ot._divergence import sinkhorn_divergence
from optkern.ot._losses import sinkhorn2
from optkern.ot._points import PointsResult, sinkhorn_points
from optkern.ot._result import SinkhornBackwardError, SinkhornResult
from optkern.ot._sinkhorn import sinkhorn, sinkhorn_cost
from optkern.ot._unbalanced import UnbalancedResult, sinkhorn_unbalanced, sinkhorn_unbalanced_vjp
from optkern.ot._vjp import sinkhorn_vjp

__all__ = ["PointsResult", "SinkhornBackwardError", "SinkhornResult", "UnbalancedResult",
           "sinkhorn", "sinkhorn2", "sinkhorn_cost", "sinkhorn_divergence", "sinkhorn_points",
           "sinkhorn_unbalanced", "sinkhorn_unbalanced_vjp", "sinkhorn_vjp"]
