"""Entropic optimal transport: :func:`sinkhorn` (kernel or log domain, batched, CPU and GPU),
:func:`sinkhorn_cost` (the entropic OT value, with its envelope gradient) and
:func:`sinkhorn_vjp` (the exact gradient of the transport plan by implicit differentiation).

The problem, for a cost matrix M (m x n), marginals a (m) and b (n) of equal mass and reg > 0::

    minimise  <M, P> + reg <P, log P - 1>   subject to   P 1 = a,  P^T 1 = b.

Its solution is ``P_ij = exp((f_i + g_j - M_ij) / reg)`` for the dual potentials f and g.
``reg`` is the epsilon of POT and OTT (1/gamma in Gould's lecture notes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from optkern import _backend, _dask
from optkern._progress import ProgressBar, check_callback, check_progress
from optkern._validation import (
    as_float_array,
    broadcast_batch,
    check_bool,
    describe,
    fail,
    overflow_scale,
    resolve_device,
)
from optkern.ot import _checks, _chunked, _range

__all__ = ["SinkhornResult", "SinkhornBackwardError", "sinkhorn", "sinkhorn_cost",
           "sinkhorn_vjp"]

@dataclass(frozen=True)
class SinkhornResult:
    """The result of :func:`sinkhorn`.

    Fields with one value per problem are scalars for a single problem and arrays of the
    batch shape for a batch.

    Attributes
    ----------
    plan : array, shape (..., m, n)
        The transport plan P (the same kind of array as the input: NumPy, CuPy, torch).
    f, g : array, shapes (..., m) and (..., n)
        Dual potentials with ``P = exp((f[:, None] + g[None, :] - M) / reg)``, in the gauge
        ``<a, f> = <b, g>``. Where a weight is zero, its row (column) of the plan is zero and its
        potential is the soft c-transform ``-reg log sum_j exp((g_j - M_ij) / reg)``.
    cost : float or ndarray
        The transport cost ``<M, P>``.
    value : float or ndarray
        The entropic OT value ``<M, P> + reg <P, log P - 1>`` (what :func:`sinkhorn_cost`
        returns).
    n_iter : int or ndarray
        Iterations done (one iteration updates f, then g).
    marginal_error : float or ndarray
        ``max(|P 1 - a|_inf, |P^T 1 - b|_inf)`` of the returned plan.
    converged : bool or ndarray
        ``marginal_error <= tol * sum(a) + u * max(a, b)``, u being the unit roundoff of the
        plan's dtype (6e-8 for float32: rounding a plan to float32 moves its row and column
        sums by up to that much of their weight, whatever the tolerance). Running out of
        iterations is reported here, never raised.
    method : str or ndarray
        The method that produced the result: "plain" or "log" (what "auto" chose, or "log"
        where a kernel-domain iteration left the floating-point range and was continued in the
        log domain).

    Examples
    --------
    >>> import numpy as np, optkern
    >>> M = np.random.default_rng(0).random((2, 3, 4))        # a batch of two problems
    >>> res = optkern.ot.sinkhorn(M, reg=0.1)
    >>> res.plan.shape, res.f.shape, res.g.shape, res.n_iter.shape
    ((2, 3, 4), (2, 3), (2, 4), (2,))
    >>> bool(res.converged.all()), bool(np.allclose(res.plan.sum(-1), 1 / 3))
    (True, True)
    >>> P = np.exp((res.f[..., :, None] + res.g[..., None, :] - M) / 0.1)
    >>> bool(np.allclose(P, res.plan)), bool(np.allclose(res.cost, (M * P).sum((-2, -1))))
    (True, True)
    """

    plan: Any
    f: Any
    g: Any
    cost: Any
    value: Any
    n_iter: Any
    marginal_error: Any
    converged: Any
    method: Any


class SinkhornBackwardError(np.linalg.LinAlgError):
    """The KKT system of :func:`sinkhorn_vjp` is singular for some problem of the batch.

    A subclass of :class:`numpy.linalg.LinAlgError` (itself a ValueError). ``items`` lists
    the flat indices of the offending problems.

    Parameters
    ----------
    message : str
        What went wrong, naming the items.
    items : list of int
        The flat batch indices of the problems whose system is singular.

    Attributes
    ----------
    items : list of int
        As given.

    Examples
    --------
    A plan whose support splits into two blocks couples nothing between them, so its
    gradient is not determined:

    >>> import numpy as np, optkern
    >>> P = np.kron(np.eye(2), np.full((2, 2), 0.125))
    >>> try:
    ...     optkern.ot.sinkhorn_vjp(P, np.ones((4, 4)), reg=0.1)
    ... except optkern.ot.SinkhornBackwardError as err:
    ...     print(err.items, isinstance(err, ValueError))
    [0] True
    """

    def __init__(self, message: str, items: list[int]):
        super().__init__(message)
        self.items = items


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
    M : array_like, shape (..., m, n)
        Cost matrix (finite, with max|M| / reg at most 1e15, beyond which rounding alone
        moves the plan's exponents by more than 0.2). Its dtype sets the dtype of
        the results: float32 stays float32 (potentials and all sums are still computed in
        float64), integers become float64.
    a, b : array_like, shapes (..., m) and (..., n), optional
        Marginal weights, >= 0, each with a total mass in [1e-300, 1e300] (the plan
        scales with it), and ``sum(a) == sum(b)`` to a relative 1e-6 (b is then rescaled
        to the mass of a exactly). Default: uniform, with
        the mass of a for b. Zero weights are allowed. The batch dimensions of M, a, b (and
        init) broadcast; a shared operand is read in place, not copied per problem.
    reg : float
        The entropic regularisation epsilon, >= 1e-300 (the gradients scale with 1/reg).
    method : {"auto", "plain", "log"}
        "plain" forms ``K = exp(-M/reg)`` once (after shifting M by its row and column
        minima) and reads it once per iteration. "log" updates the potentials by
        log-sum-exp with a vectorised exp: the method for small reg. "auto" takes "plain"
        when the shifted kernel fits the floating-point range (``max(M - shifts) / reg`` at
        most 300 in float64, 80 in float32) and "log" otherwise. A "plain" iteration whose
        scalings leave the range of double goes on in the log domain, so no method returns
        NaN or Inf for finite input.
    tol : float
        Stop when the max-norm marginal violation is at most ``tol * sum(a)``; checked every
        10 iterations, at no extra pass over M (the check is fused into the iteration).
    max_iter : int
        The most iterations to do (>= 1). With ``tol=0`` exactly max_iter are done.
    init : (f, g), optional
        Warm start from potentials (for example a previous result's ``f, g``): the iteration
        starts from g, or, when g is None, from the soft c-transform of f.
    device : {"cpu", "cuda", "auto"}
        Where to compute. On "cuda", CuPy arrays and torch CUDA tensors are used in place and
        the plan and potentials come back as the same kind; NumPy inputs are copied to the
        GPU and back. "auto" follows the data.
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
    stream : int, torch.cuda.Stream or cupy.cuda.Stream, optional
        The CUDA stream to run on (CUDA runs only; a ValueError on the CPU). By default the
        current stream of the library that made the GPU arrays, or the legacy default stream
        for NumPy input.
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
        return _dask.sinkhorn(**locals())
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
        from optkern import _gpu
        from optkern.ot import _cuda_path

        if callback is not None:
            fail("callback", "None on device='cuda' (the iteration is one launch)",
                 describe(callback))
        if eps_scaling is not None:
            fail("eps_scaling", "None on device='cuda' (CPU only for now)", repr(eps_scaling))
        with ProgressBar(max_iter, "sinkhorn (cuda)", "iterations", enabled=progress) as bar, \
                _gpu.use_stream(stream):
            res = _cuda_path.sinkhorn(M, a, b, reg, tol, max_iter, method_code, init)
            bar.update_to(int(np.max(res.n_iter, initial=0)))
            return res
    problem = _checks.prepare(M, a, b, reg, init)
    if eps_scaling is not None:
        from optkern.ot import _eps_scaling

        factor = _eps_scaling.check_factor(eps_scaling)
        if callback is not None or progress:
            fail("eps_scaling", "None when a callback or progress is given", repr(eps_scaling))
        return _eps_scaling.sinkhorn(problem, reg, tol, max_iter, method_code, factor)
    # near overflow, the kernel runs on (M / s, reg / s), exactly (ot/_range.py)
    scale = _range.problem_scale(problem, reg)
    problem, reg = _range.scaled(problem, scale), reg / scale
    if callback is None and not progress:
        res = _sinkhorn_cpu(problem, reg, tol, max_iter, method_code)
    else:
        with ProgressBar(max_iter, "sinkhorn", "iterations", enabled=progress) as bar:
            res = _chunked.sinkhorn(problem, reg, tol, max_iter, method_code,
                                    _range.scaled_callback(callback, scale), bar)
    return _range.check_representable(_range.unscaled(res, scale))


def _sinkhorn_cpu(p: _checks.Problem, reg: float, tol: float, max_iter: int,
                  method_code: int) -> SinkhornResult:
    B, m, n = p.batch, p.m, p.n
    plan = np.empty((B, m, n), p.dtype)
    f = np.empty((B, m), p.dtype)
    g = np.empty((B, n), p.dtype)
    if B:
        stats = _backend._core.sinkhorn(p.M, p.a, p.b, p.init_g, reg, tol, max_iter, 10,
                                        method_code, 0, plan, f, g)
    else:
        stats = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0),
                 np.zeros(0, bool), np.zeros(0, np.int64))
    return make_result(p.batch_shape, m, n, plan, f, g, stats)


def make_result(batch_shape: tuple[int, ...], m: int, n: int, plan: Any, f: Any, g: Any,
                stats: tuple) -> SinkhornResult:
    """A SinkhornResult from flat (B, ...) outputs and the kernel's per-item statistics."""
    n_iter, error, cost, value, converged, method = (np.asarray(s) for s in stats)
    names = np.array(["auto", "plain", "log"])[method]

    def per_item(x: np.ndarray) -> Any:
        x = x.reshape(batch_shape)
        return x.item() if x.ndim == 0 else x

    return SinkhornResult(
        plan=plan.reshape(batch_shape + (m, n)),
        f=f.reshape(batch_shape + (m,)),
        g=g.reshape(batch_shape + (n,)),
        cost=per_item(cost),
        value=per_item(value),
        n_iter=per_item(n_iter),
        marginal_error=per_item(error),
        converged=per_item(converged),
        method=per_item(names),
    )


def sinkhorn_cost(
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
    return_grad: bool = False,
    stream: Any = None,
) -> Any:
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
    M, a, b, reg, method, tol, max_iter, init, device, stream
        As in :func:`sinkhorn`.
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
    res = sinkhorn(M, a, b, reg=reg, method=method, tol=tol, max_iter=max_iter, init=init,
                   device=device, stream=stream)
    if not return_grad:
        return res.value
    f, g = res.f, res.g
    m, n = f.shape[-1], g.shape[-1]
    shift = (g.sum(-1, keepdims=True) - f.sum(-1, keepdims=True)) / (m + n)
    return res.value, (res.plan, f + shift, g - shift)


def sinkhorn_vjp(
    P: Any,
    grad_P: Any,
    reg: float,
    a: Any = None,
    b: Any = None,
    *,
    on_singular: str = "raise",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of a loss L(P) through the Sinkhorn plan, by implicit differentiation.

    Given the plan ``P = sinkhorn(M, a, b, reg=reg).plan`` and ``grad_P = dL/dP``, returns
    ``(dL/dM, dL/da, dL/db)``. The optimality (KKT) conditions are differentiated, not the
    iterations: no iterate is stored and the cost does not grow with the iteration count.

    Parameters
    ----------
    P : array_like, shape (..., m, n)
        A transport plan from :func:`sinkhorn` (entries >= 0, finite). Any plan of the form
        ``diag(u) K diag(v)`` is optimal for its own marginals ``P 1`` and ``P^T 1``, which is
        what the gradient is taken at; for a converged plan those are a and b.
    grad_P : array_like, shape (..., m, n)
        dL/dP; it broadcasts to P's shape.
    reg : float
        The reg the plan was computed with (>= 1e-300).
    a, b : array_like, shapes (..., m) and (..., n), optional
        The marginals passed to :func:`sinkhorn`, if any. They are checked like there, and
        grad_a, grad_b are summed over the batch dimensions along which a, b were broadcast
        (as automatic differentiation would); without them grad_a and grad_b have P's batch
        shape.
    on_singular : {"raise", "nan"}
        What to do when the system is singular for a problem (its plan's support is
        disconnected, typically because entries underflowed to zero at a small reg):
        raise :class:`SinkhornBackwardError` naming the problems, or return NaN gradients for
        them (and correct ones for the others).

    Returns
    -------
    grad_M : ndarray, shape (..., m, n)
        ``P * (lambda_i + mu_j - grad_P) / reg``: every row and column sums to zero.
    grad_a, grad_b : ndarray
        ``lambda`` and ``mu``, in the minimum-norm gauge ``sum grad_a = sum grad_b`` (only
        perturbations with ``sum(da) = sum(db)`` are meaningful; they do not see the gauge).
        Entries of rows (columns) of P that are entirely zero, such as zero weights, are NaN:
        the derivative with respect to a zero weight needs the potentials, which P does not
        carry; their rows (columns) of grad_M are zero.

    Raises
    ------
    ValueError
        For bad shapes, negative or non-finite P, ``reg < 1e-300`` or an unknown on_singular.
    SinkhornBackwardError
        When the system is singular for some problem and ``on_singular="raise"``.

    Notes
    -----
    With ``r = P 1`` and ``c = P^T 1``, the multipliers solve
    ``[[diag(r), P], [P^T, diag(c)]] [lambda; mu] = [(W*P) 1; (W*P)^T 1]``
    (Gould, Lecture Notes on Differentiable Optimisation, eqs 141-146). That system is
    singular along (1, -1); the side with more nonzero rows or columns is eliminated, the
    first unknown of the other is grounded (set to 0), and the rest of the Schur complement
    ``diag(r) - P diag(1/c) P^T`` (a graph Laplacian, assembled in float64 from its
    off-diagonal entries) is factored by Cholesky, a pivot not above ``4 max(k, 16) eps`` of
    its diagonal meaning singular (the torch adapter's backward on CUDA solves it the same
    way). This takes O(m n min(m, n) + min(m, n)^3) time and O(m n + min(m, n)^2) memory.
    Float32 input is solved in float64, since the system grows ill-conditioned as reg
    shrinks. No identity is ever substituted for a failed factorization.

    Examples
    --------
    >>> import numpy as np, optkern
    >>> rng = np.random.default_rng(1)
    >>> M = rng.random((5, 4))
    >>> P = optkern.ot.sinkhorn(M, reg=0.1).plan
    >>> target = np.full((5, 4), 0.05)
    >>> grad_P = P - target                       # L = |P - target|^2 / 2
    >>> grad_M, grad_a, grad_b = optkern.ot.sinkhorn_vjp(P, grad_P, 0.1)
    >>> bool(np.allclose(grad_M.sum(axis=0), 0) and np.allclose(grad_M.sum(axis=1), 0))
    True
    >>> def loss(M):
    ...     P = optkern.ot.sinkhorn(M, reg=0.1, tol=1e-13).plan
    ...     return 0.5 * np.sum((P - target) ** 2)
    >>> dM = np.zeros_like(M); dM[2, 1] = 1e-6
    >>> fd = (loss(M + dM) - loss(M - dM)) / 2e-6
    >>> bool(abs(fd - grad_M[2, 1]) < 1e-8)
    True
    """
    if _dask.is_dask(P, grad_P, reg, a, b):  # a lazy dask result (optkern/_dask.py)
        return _dask.sinkhorn_vjp(**locals())
    reg = _checks.check_reg(reg)
    if on_singular not in ("raise", "nan"):
        fail("on_singular", "'raise' or 'nan'", repr(on_singular))
    P = as_float_array(P, "P", min_ndim=2)
    dtype = P.dtype
    m, n = P.shape[-2:]
    if m == 0 or n == 0:
        fail("P", "at least one row and one column", f"shape {P.shape}")
    if P.size and P.min() < 0:
        fail("P", "a transport plan with entries >= 0", "a negative entry")
    # The multipliers do not change when P is scaled and grad_M scales with it: a plan near
    # the ends of the range (1e308 overflowed its row sums; 5e-324 lost every digit) is
    # solved as P / 2^k, each problem of the batch with its own k.
    top = (P.max(axis=(-2, -1), keepdims=True) if P.size
           else np.zeros(P.shape[:-2] + (1, 1))).astype(np.float64)
    extreme = (top > 0) & ((top < 2.0**-500) | (top > 2.0**500))
    p_scale = np.where(extreme, np.ldexp(1.0, np.frexp(top)[1] - 1), 1.0)
    if extreme.any():
        P = P / p_scale.astype(dtype)
    grad_P = as_float_array(grad_P, "grad_P", dtype, contiguous=False)  # finite in P's dtype
    try:
        grad_P = np.broadcast_to(grad_P, P.shape)
    except ValueError:
        fail("grad_P", f"an array that broadcasts to P's shape {P.shape}",
             f"shape {grad_P.shape}")
    grad_P = np.ascontiguousarray(grad_P, dtype=dtype)
    scale = overflow_scale(grad_P)  # the gradients are linear in grad_P
    if scale != 1:
        grad_P = grad_P / scale
    batch_shape = P.shape[:-2]
    if a is not None:
        a = _checks.weights(a, "a", m, dtype, "rows")
    if b is not None:
        b = _checks.weights(b, "b", n, dtype, "columns")
    if a is not None and b is not None:
        _checks.check_equal_mass(a, b)
    shapes = [(batch_shape, "P")]
    shapes += [(x.shape[:-1], name) for x, name in ((a, "a"), (b, "b")) if x is not None]
    if broadcast_batch(shapes) != batch_shape:
        fail("a, b", f"batch shapes that broadcast to P's batch shape {batch_shape}",
             ", ".join(f"{name} {shape}" for shape, name in shapes[1:]))

    B = int(np.prod(batch_shape, dtype=np.int64))
    flat_P = P.reshape(B, m, n)
    grad_M = np.empty((B, m, n), dtype)
    grad_a = np.empty((B, m), dtype)
    grad_b = np.empty((B, n), dtype)
    if B:
        status = _backend._core.sinkhorn_vjp(flat_P, grad_P.reshape(B, m, n), reg, 0, grad_M,
                                             grad_a, grad_b)
        bad = np.flatnonzero(status).tolist()
        if bad and on_singular == "raise":
            raise singular_error(bad)
    grad_M = grad_M.reshape(P.shape)
    grad_a = _sum_to(grad_a.reshape(batch_shape + (m,)), a)
    grad_b = _sum_to(grad_b.reshape(batch_shape + (n,)), b)
    if scale != 1 or extreme.any():
        with np.errstate(over="ignore", under="ignore"):  # only where the true value is
            # out of range; one factor at a time, since their product can overflow where
            # grad_M is 0 (giving NaN), though each alone does not
            grad_M = grad_M * scale * p_scale
            grad_a, grad_b = grad_a * scale, grad_b * scale
    return grad_M, grad_a, grad_b


def singular_error(bad: list[int]) -> SinkhornBackwardError:
    """The error for a singular backward system at the flat batch indices `bad`."""
    return SinkhornBackwardError(
        f"sinkhorn_vjp: the Schur complement is not positive definite for batch "
        f"item(s) {bad[:10]}{' ...' if len(bad) > 10 else ''}: the support of P does "
        f"not connect all its rows and columns (entries underflowed to zero at a small "
        f"reg?). Use a larger reg or float64, or on_singular='nan'.", bad)


def _sum_to(grad: np.ndarray, like: np.ndarray | None) -> np.ndarray:
    """Sum a batched gradient over the dimensions along which `like` was broadcast."""
    if like is None or grad.shape == like.shape:
        return grad
    extra = grad.ndim - like.ndim
    axes = tuple(range(extra)) + tuple(
        extra + d for d, size in enumerate(like.shape) if size == 1 and grad.shape[extra + d] != 1
    )
    return grad.sum(axis=axes).reshape(like.shape).astype(grad.dtype, copy=False)



# Losses named as POT, OTT and GeomLoss name them (issue 16).
from optkern.ot._losses import sinkhorn2, sinkhorn_divergence  # noqa: E402

__all__ += ["sinkhorn2", "sinkhorn_divergence"]
from optkern.ot._unbalanced import (  # noqa: E402
    UnbalancedResult,
    sinkhorn_unbalanced,
    sinkhorn_unbalanced_vjp,
)

__all__ += ["UnbalancedResult", "sinkhorn_unbalanced", "sinkhorn_unbalanced_vjp"]
from optkern.ot._points import PointsResult, sinkhorn_points  # noqa: E402

__all__ += ["PointsResult", "sinkhorn_points"]
