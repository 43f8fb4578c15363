"""optkern.ot.sinkhorn_divergence: the debiased Sinkhorn divergence between point clouds
(Feydy et al. 2019, GeomLoss's ``SamplesLoss("sinkhorn", debias=True)``, or POT's
``empirical_sinkhorn_divergence`` with ``loss="linear"``), from dense cost matrices or, for
clouds too large for them, from :func:`optkern.ot.sinkhorn_points`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from optkern import _arrays, _backend, _dask, _docs
from optkern._keywords import DIVERGENCE, DivergenceOptions
from optkern._validation import as_float_array
from optkern.ot._checks import weights
from optkern.ot._losses import check_points, divergence_settings, pairwise_cost, symmetric_potential
from optkern.ot._points import points_cost, sinkhorn_points
from optkern.ot._sinkhorn import sinkhorn, sinkhorn_cost

if TYPE_CHECKING:  # typing.Unpack is Python 3.11+; annotations are not evaluated
    from typing_extensions import Unpack

__all__ = ["ONLINE_PAIRS", "sinkhorn_divergence", "symmetric_points_potential"]

# Above this many pairs (m n, m^2 or n^2 per problem) the three solves run on the fly
# (sinkhorn_points: O((m + n) d) memory) instead of on cost matrices: 2^24 pairs are 134 MB of
# float64 per matrix, and the dense path holds three matrices and their plans.
ONLINE_PAIRS = 1 << 24


@_docs.fill
@_arrays.same_kind("x", "y")
@DIVERGENCE.after("reg")
def sinkhorn_divergence(x: Any, y: Any, a: Any = None, b: Any = None, *, reg: float,
                        **options: Unpack[DivergenceOptions]) -> Any:
    """The debiased Sinkhorn divergence between two weighted point clouds.

    ``S(a, b) = OT(a, b) - OT(a, a) / 2 - OT(b, b) / 2`` with the costs ``C(x, y)``,
    ``C(x, x)`` and ``C(y, y)``, where OT is:

    - ``loss="entropic"``: the entropic OT value of :func:`optkern.ot.sinkhorn_cost` (Feydy
      et al., "Interpolating between optimal transport and MMD using Sinkhorn divergences",
      AISTATS 2019; GeomLoss's ``SamplesLoss("sinkhorn", debias=True)``). S is >= 0 (the
      kernels exp(-C/reg) of both costs are positive definite) and 0 exactly when the clouds
      and weights are equal. Whether the entropy is written ``<P, log P - 1>`` or
      ``KL(P | a b^T)`` does not change S: the difference cancels between the three terms.
    - ``loss="linear"``: the transport cost ``<C, P>`` of :func:`optkern.ot.sinkhorn2`, as
      POT's ``ot.bregman.empirical_sinkhorn_divergence``. This one can be negative; like
      POT, it is clipped at 0.

    Parameters
    ----------
    x : array_like, shape (..., m, d)
        The first cloud (finite).
    y : array_like, shape (..., n, d)
        The second cloud; the batch dimensions of x and y (and a, b) broadcast.
    {cloud_ab}
    {divergence_options}

    Returns
    -------
    float or ndarray
        S, one per problem (a float for a single problem).

    Raises
    ------
    ValueError
        For clouds of different dimensions, non-finite points, an unknown cost or loss, or
        what :func:`optkern.ot.sinkhorn` rejects (the message names the argument).

    Notes
    -----
    Parameters of the peers: POT's ``empirical_sinkhorn_divergence(x, y, reg, a, b)`` is
    ``loss="linear", cost="sqeuclidean"`` with the same reg. GeomLoss's
    ``SamplesLoss("sinkhorn", p=p, blur=blur)`` uses the cost ``|x - y|^p / p`` and
    ``epsilon = blur^p`` (blur = epsilon^(1/p)); since ``OT_{C/2, reg/2} = OT_{C, reg} / 2``,

    - p = 2: GeomLoss(blur) = ``sinkhorn_divergence(cost="sqeuclidean", reg=2 * blur**2) / 2``;
    - p = 1: GeomLoss(blur) = ``sinkhorn_divergence(cost="euclidean", reg=blur)``.

    GeomLoss runs a fixed epsilon-scaling schedule (``scaling=0.5`` by default) with no
    convergence test; ``scaling`` near 1 brings it to the converged value computed here.
    Gradients with respect to x, y, a and b: :func:`optkern.torch.sinkhorn_divergence` and
    :func:`optkern.jax.sinkhorn_divergence`.

    Clouds of more than ``optkern.ot._divergence.ONLINE_PAIRS`` (2^24) pairs per cost
    (``max(m, n)^2``) never form a cost matrix: the three values come from
    :func:`optkern.ot.sinkhorn_points` (log domain whatever ``method`` says, O((m + n) d)
    memory, no warm start), which solves the same problems to the same ``tol``.

    Examples
    --------
    >>> import numpy as np, optkern
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(20, 2)), rng.normal(size=(30, 2)) + 1.0
    >>> s = optkern.ot.sinkhorn_divergence(x, y, reg=0.1)
    >>> bool(s > 0), optkern.ot.sinkhorn_divergence(x, x, reg=0.1)
    (True, 0.0)
    >>> optkern.ot.sinkhorn_divergence(np.stack([x, x + 1]), x, reg=0.1).shape
    (2,)
    """
    if _dask.is_dask(x, y, a, b):  # a lazy dask result (optkern/_dask.py)
        return _dask.batched(sinkhorn_divergence, {"x": 2, "y": 2, "a": 1, "b": 1}, x=x, y=y,
                             a=a, b=b, reg=reg, **options)
    reg, cost, loss, kwargs = divergence_settings(reg, options)
    x, y = check_points(x, y)
    m, n = x.shape[-2], y.shape[-2]
    wa = np.full(m, 1.0 / m) if a is None else weights(a, "a", m, x.dtype, "points of x")
    if b is not None:
        b = weights(b, "b", n, x.dtype, "points of y")
    if b is None:  # uniform with the mass of a (equal inputs give equal arrays)
        wb = np.full(n, 1.0 / n) if a is None else np.full(n, 1.0) * np.sum(
            as_float_array(a, "a", contiguous=False), -1, keepdims=True, dtype=np.float64) / n
    else:
        wb = b
    if max(m, n) ** 2 > ONLINE_PAIRS:
        parts = _online_values(x, y, wa, wb, cost, loss, kwargs)
    else:
        parts = _dense_values(x, y, wa, wb, cost, loss, kwargs)
    ab, aa, bb = (np.asarray(p) for p in parts)
    s = np.maximum(ab - 0.5 * aa - 0.5 * bb, 0.0)
    return s.item() if s.ndim == 0 else s


def _dense_values(x: np.ndarray, y: np.ndarray, wa: Any, wb: Any, cost: str, loss: str,
                  kwargs: dict[str, Any]) -> list[Any]:
    """OT(a, b), OT(a, a), OT(b, b) on the three cost matrices."""
    reg = kwargs["reg"]
    C_xy, C_xx, C_yy = (pairwise_cost(p, q, cost) for p, q in ((x, y), (x, x), (y, y)))
    # Warm starts: the symmetric problems from their symmetric fixed point, (x, y) from the
    # potential of (y, y); equal inputs thus give three identical runs, and S = 0 exactly.
    g_xx = symmetric_potential(C_xx, as_float_array(wa, "a", contiguous=False), reg)
    g_yy = symmetric_potential(C_yy, as_float_array(wb, "b", contiguous=False), reg)
    parts = []
    for C, wp, wq, g0 in ((C_xy, wa, wb, g_yy), (C_xx, wa, wa, g_xx), (C_yy, wb, wb, g_yy)):
        init = (None, g0.astype(C.dtype))
        if loss == "entropic":
            parts.append(np.asarray(sinkhorn_cost(C, wp, wq, init=init, **kwargs)))
        else:
            parts.append(np.asarray(sinkhorn(C, wp, wq, init=init, **kwargs).cost))
    return parts


def _online_values(x: np.ndarray, y: np.ndarray, wa: Any, wb: Any, cost: str, loss: str,
                   kwargs: dict[str, Any]) -> list[Any]:
    """OT(a, b), OT(a, a), OT(b, b) by sinkhorn_points (log domain, whatever `method` says),
    warm-started as the dense path is: the symmetric problems from their symmetric fixed point
    (computed on the fly too), (x, y) from the potential of (y, y). Equal inputs run three
    identical computations, so S = 0 exactly still holds."""
    field = "value" if loss == "entropic" else "cost"
    reg = kwargs["reg"]
    solve = {"reg": reg, "cost": cost, "tol": kwargs["tol"], "max_iter": kwargs["max_iter"]}
    batch = np.broadcast_shapes(x.shape[:-2], y.shape[:-2], np.shape(wa)[:-1],
                                np.shape(wb)[:-1])
    g_xx = symmetric_points_potential(x, wa, batch, reg, cost)
    g_yy = symmetric_points_potential(y, wb, batch, reg, cost)
    return [getattr(sinkhorn_points(p, q, wp, wq, init=g0, **solve), field)
            for p, q, wp, wq, g0 in ((x, y, wa, wb, g_yy), (x, x, wa, wa, g_xx),
                                     (y, y, wb, wb, g_yy))]


def symmetric_points_potential(x: np.ndarray, w: Any, batch: tuple[int, ...], reg: float,
                                cost: str, tol: float = 1e-12,
                                max_iter: int = 1000) -> np.ndarray:
    """symmetric_potential (optkern.ot._losses) with the costs computed on the fly: Feydy's
    averaged iteration ``g <- (g + T(g)) / 2`` of the soft c-transform
    ``T(g)_i = reg log w_i - reg LSE_j((g_j - c(x_i, x_j)) / reg)``, a few dozen passes where
    the plain alternating iteration needs hundreds. Each pass is one application of the plan
    operator ``sum_j exp((s_i + g_j - c_ij) / reg)``, shifted by the last T(g) (the diagonal
    c_ii = 0 keeps every sum positive). Returns g of shape batch + (n,), 0 at zero weights."""
    n = x.shape[-2]
    xs = np.broadcast_to(x, batch + x.shape[-2:]).reshape((-1,) + x.shape[-2:])
    ws = np.broadcast_to(np.asarray(w, np.float64), batch + (n,)).reshape(-1, n)
    out = np.zeros(ws.shape)
    apply = _backend._core.ot.sinkhorn_points_apply
    code = points_cost(cost)
    ones, row_sums = np.ones(n), np.empty(n)
    for k in range(ws.shape[0]):
        pos = ws[k] > 0
        with np.errstate(divide="ignore"):
            log_w = np.log(ws[k])
        xk = np.ascontiguousarray(xs[k])
        g = np.where(pos, 0.0, -np.inf)
        shift = np.zeros(n)
        for _ in range(max_iter):
            apply(xk, xk, shift, g, reg, code, ones, row_sums, 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                T = np.where(pos, reg * (log_w - np.log(row_sums)) + shift, -np.inf)
            step = float(np.abs(T - g)[pos].max()) / reg if pos.any() else 0.0
            g = np.where(pos, 0.5 * (g + T), -np.inf)
            shift = np.where(pos, T, 0.0)
            if not step > tol:
                break
        out[k] = np.where(pos & np.isfinite(g), g, 0.0)
    return out.reshape(batch + (n,))
