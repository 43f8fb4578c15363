"""optkern.ot's Sinkhorn solver and its value: :func:`sinkhorn` and :func:`sinkhorn_cost`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from optkern import _arrays, _dask, _docs, _gpu
from optkern._keywords import SINKHORN, SinkhornOptions
from optkern._progress import ProgressBar, check_callback, check_progress
from optkern._validation import check_bool, describe, fail, resolve_device
from optkern.ot import _checks, _chunked, _cpu, _cuda, _eps_scaling, _range
from optkern.ot import _dask as _ot_dask
from optkern.ot._result import SinkhornResult

if TYPE_CHECKING:  # typing.Unpack is Python 3.11+; annotations are not evaluated
    from typing_extensions import Unpack


@_docs.fill
@_arrays.same_kind("M", "a", "b")
def sinkhorn(
    M: Any,
    a: Any = None,
    b: Any = None,
    *,
    reg: float,
    method: str = "auto",
    tol: float = 1e-9,
    max_iter: int = 10000,
    init: Any = None,
    device: str = "cpu",
    callback: Any = None,
    progress: bool = False,
    stream: Any = None,
    eps_scaling: float | None = None,
) -> SinkhornResult:
    """Entropic optimal transport by Sinkhorn's algorithm.

    Solves ``min <M, P> + reg <P, log P - 1>`` subject to ``P 1 = a`` and ``P^T 1 = b``, for
    one problem or a batch.

    Parameters
    ----------
    {sinkhorn_problem}
    {device}
    callback : callable, optional
        CPU only. ``callback(intermediate_result)`` receives the :class:`SinkhornResult` of
        the current iterate after every chunk of iterations (sized to take about 0.1 s
        each; its arrays are copies, which the callback may keep or change without
        affecting the run); returning True (or ``np.True_``) stops the run there. The run
        is then resumed from its potentials between chunks, which gives the same iterates
        up to rounding at the cost of one setup pass over M per chunk; problems that have
        converged stop running.
    progress : bool
        Show the iterations done and the largest marginal error (in chunks, as for
        callback): a tqdm bar if tqdm is installed, else a line on stderr. On CUDA the
        iteration is one launch and only its end is shown.
    {stream}
    eps_scaling : float in (0, 1), optional
        CPU only. Solve a sequence of problems instead, from reg_0 = max|M| down to reg,
        multiplying reg by this factor at each stage and warm-starting each from the last
        stage's potentials (GeomLoss's ``scaling``, OTT's ``Epsilon(decay=...)``); the
        intermediate stages stop at a marginal error of 1e-3 (relative to the mass), the last
        at tol. For small reg (1e-3 max|M| and below) this takes far fewer iterations than a
        cold start. n_iter then counts the iterations of all stages (max_iter bounds them
        all); the other fields are the last stage's. Not combined with callback or progress.

    Returns
    -------
    SinkhornResult
        plan, f, g, cost, value, n_iter, marginal_error, converged, method.

    Raises
    ------
    ValueError
        For a non-finite or badly shaped M, negative or all-zero marginals, marginals of
        different mass, ``reg < 1e-300``, ``tol < 0``, ``max_iter < 1``, an unknown method, or
        ``device="cuda"`` where CUDA is not available. The message starts with the
        argument's name.

    Notes
    -----
    Each iteration reads K (or M) once: row i gives ``u_i = a_i / (K_i . v)`` (or f_i by a
    row log-sum-exp) and is folded at once into per-thread accumulators of ``K^T u`` (or of
    running column maxima and sums), so an iteration costs the memory traffic of one
    matrix-vector product. Threads go over the batch, or over the rows of one large problem.

    Examples
    --------
    >>> import numpy as np, optkern
    >>> x = np.linspace(0, 1, 5)
    >>> M = (x[:, None] - x[None, :]) ** 2
    >>> res = optkern.ot.sinkhorn(M, reg=0.1)
    >>> bool(res.converged), res.method
    (True, 'plain')
    >>> np.allclose(res.plan.sum(axis=1), 0.2) and np.allclose(res.plan.sum(axis=0), 0.2)
    True
    >>> P = np.exp((res.f[:, None] + res.g[None, :] - M) / 0.1)
    >>> bool(np.allclose(P, res.plan))
    True
    >>> optkern.ot.sinkhorn(M, reg=1e-4).method   # small reg: the log domain
    'log'
    >>> cold = optkern.ot.sinkhorn(M, reg=1e-3, method="log")
    >>> warm = optkern.ot.sinkhorn(M, reg=1e-3, method="log", eps_scaling=0.5)
    >>> bool(warm.converged), bool(np.allclose(warm.plan, cold.plan, atol=1e-8))
    (True, True)
    >>> batch = optkern.ot.sinkhorn(np.stack([M, 2 * M]), reg=0.1)
    >>> batch.plan.shape, batch.converged.tolist()
    ((2, 5, 5), [True, True])
    >>> errors = []
    >>> res = optkern.ot.sinkhorn(M, reg=0.01, callback=lambda r: errors.append(
    ...     r.marginal_error))
    >>> bool(res.converged), errors[-1] == res.marginal_error
    (True, True)
    """
    if _dask.is_dask(M, a, b, init, reg):  # a lazy dask result (optkern/_dask.py)
        return _ot_dask.sinkhorn(sinkhorn, **locals())
    reg = _checks.check_reg(reg)
    tol = _checks.check_tol(tol)
    max_iter = _checks.check_max_iter(max_iter)
    method_code = _checks.check_method(method)
    arrays = [(M, "M"), (a, "a"), (b, "b")]
    if isinstance(init, (tuple, list)):
        arrays += [(x, "init") for x in init]
    callback = check_callback(callback)
    progress = check_progress(progress)
    where = resolve_device(device, arrays, stream)
    if where == "cuda":
        if callback is not None:
            fail("callback", "None on device='cuda' (the iteration is one launch)",
                 describe(callback))
        if eps_scaling is not None:
            fail("eps_scaling", "None on device='cuda' (CPU only for now)", repr(eps_scaling))
        with ProgressBar(max_iter, "sinkhorn (cuda)", "iterations", enabled=progress) as bar, \
                _gpu.use_stream(stream):
            res = _cuda.sinkhorn(M, a, b, reg, tol, max_iter, method_code, init)
            bar.update_to(int(np.max(res.n_iter, initial=0)))
            return _range.check_representable(res)
    problem = _checks.prepare(M, a, b, reg, init)
    if eps_scaling is not None:
        factor = _eps_scaling.check_factor(eps_scaling)
        if callback is not None or progress:
            fail("eps_scaling", "None when a callback or progress is given", repr(eps_scaling))
        return _eps_scaling.sinkhorn(problem, reg, tol, max_iter, method_code, factor)
    # near overflow, the kernel runs on (M / s, reg / s), exactly (ot/_range.py)
    scale = _range.problem_scale(problem, reg)
    problem, reg = _range.scaled(problem, scale), reg / scale
    if callback is None and not progress:
        res = _cpu.sinkhorn(problem, reg, tol, max_iter, method_code)
    else:
        with ProgressBar(max_iter, "sinkhorn", "iterations", enabled=progress) as bar:
            res = _chunked.sinkhorn(problem, reg, tol, max_iter, method_code,
                                    _range.scaled_callback(callback, scale), bar)
    return _range.check_representable(_range.unscaled(res, scale))


@_docs.fill
@_arrays.same_kind("M", "a", "b")
@SINKHORN.after("reg")
def sinkhorn_cost(M: Any, a: Any = None, b: Any = None, *, reg: float, device: str = "cpu",
                  return_grad: bool = False, stream: Any = None,
                  **options: Unpack[SinkhornOptions]) -> Any:
    """The entropic OT value ``OT_reg(M, a, b) = <M, P> + reg <P, log P - 1>`` at the
    optimal plan, and optionally its gradient.

    Which quantity this is, against the peers (P the optimal plan, f, g its potentials):

    - POT's ``ot.sinkhorn2`` returns the transport cost ``<M, P>`` alone: that is
      :func:`sinkhorn2` (``SinkhornResult.cost``), not this function.
    - POT's ``ot.solve(M, a, b, reg=reg).value``, OTT's ``reg_ot_cost`` and GeomLoss's
      ``OT_eps`` are ``<M, P> + reg KL(P | a b^T)`` (``= <a, f> + <b, g>`` at convergence,
      in their gauge). Since ``KL(P | a b^T) = <P, log P - 1> - <a, log a> - <b, log b> +
      sum(a) sum(b)`` for a plan with marginals a and b, this function returns
      ``their value + reg (<a, log a> + <b, log b> - sum(a) sum(b))``. The difference does not
      depend on M, so the gradients in M agree (both are P), and it cancels in the debiased
      :func:`sinkhorn_divergence`.

    The value is a minimum over P, so by the envelope theorem its gradient needs no backward
    solve: ``d OT / dM = P``, ``d OT / da = f`` and ``d OT / db = g``. Losses that use only
    the value should differentiate it this way instead of through :func:`sinkhorn_vjp`.

    Parameters
    ----------
    {sinkhorn_problem}
    {device}
    {stream}
    return_grad : bool
        Also return ``(grad_M, grad_a, grad_b) = (P, f, g)``.

    Returns
    -------
    value : float or ndarray
        One value per problem (a float for a single problem).
    grads : tuple of arrays, only with ``return_grad=True``
        ``(P, f, g)``, with (f, g) in the minimum-norm gauge ``sum f = sum g``: since a and b
        must keep equal mass, only perturbations with ``sum(da) = sum(db)`` are meaningful,
        and those do not see the gauge. Where a weight is zero, the true derivative is
        -inf (the entropy's slope at 0) and the finite soft c-transform is returned.

    Raises
    ------
    ValueError
        For the arguments :func:`sinkhorn` rejects (the message names the argument).

    Examples
    --------
    >>> import numpy as np, optkern
    >>> rng = np.random.default_rng(0)
    >>> M = rng.random((4, 6))
    >>> value, (grad_M, grad_a, grad_b) = optkern.ot.sinkhorn_cost(M, reg=0.05,
    ...                                                            return_grad=True)
    >>> h = 1e-6
    >>> dM = np.zeros_like(M); dM[1, 2] = h
    >>> up = optkern.ot.sinkhorn_cost(M + dM, reg=0.05)
    >>> down = optkern.ot.sinkhorn_cost(M - dM, reg=0.05)
    >>> bool(abs((up - down) / (2 * h) - grad_M[1, 2]) < 1e-6)
    True
    """
    return_grad = check_bool(return_grad, "return_grad")
    res = sinkhorn(M, a, b, reg=reg, device=device, stream=stream, **options)
    if not return_grad:
        return res.value
    f, g = res.f, res.g
    m, n = f.shape[-1], g.shape[-1]
    shift = (g.sum(-1, keepdims=True) - f.sum(-1, keepdims=True)) / (m + n)
    return res.value, (res.plan, f + shift, g - shift)
