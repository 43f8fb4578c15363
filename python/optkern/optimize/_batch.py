"""minimize_batch: many independent problems, each with its own optimiser state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from optkern import _arrays, _dask, _docs, _gpu
from optkern._keywords import OPTIMIZER, OptimizerOptions
from optkern._progress import (
    ProgressBar,
    check_callback,
    check_progress,
)
from optkern._validation import (
    MAX_THREADS,
    check_number,
    describe,
    fail,
    resolve_device,
)
from optkern.optimize import _cpu, _cuda
from optkern.optimize._checks import check_method, options
from optkern.optimize._result import (
    BatchResult,
)
from optkern.optimize.problems import Problem

if TYPE_CHECKING:  # typing.Unpack is Python 3.11+; annotations are not evaluated
    from typing_extensions import Unpack

GPU_METHODS = ("lbfgs",)


@_docs.fill
@_arrays.same_kind("x0")
@OPTIMIZER.after("bounds")
def minimize_batch(
    fun: Callable[..., Any] | Problem,
    x0: Any,
    *,
    method: str = "lbfgs",
    bounds: Any = None,
    num_threads: int | None = None,
    device: str = "cpu",
    callback: Callable[[BatchResult], Any] | None = None,
    progress: bool = False,
    stream: Any = None,
    **settings: Unpack[OptimizerOptions],
) -> BatchResult:
    """Minimise B independent problems at once, each from its own start.

    Every problem keeps its own history, line search and stopping state, so the batch gives
    the results of B separate :func:`minimize` runs (the same iterates, the same counts). A
    single state over all problems, as some peers use, mixes their curvature and solves far
    fewer of them.

    Parameters
    ----------
    fun : callable or Problem
        ``fun(X) -> (F, G)`` evaluates every problem at once: X has shape (B, n), F shape
        (B,) and G shape (B, n); row b of X is problem b's trial point (X is a fresh copy
        for each call, which fun may keep or write into without changing the run). Rows of
        problems that have finished hold their final x and their values are ignored. With a
        native :class:`~optkern.optimize.problems.Problem` the problems run independently
        on ``num_threads`` threads with no Python at all, or on a CUDA device, one problem
        per GPU thread.
    x0 : array_like, shape (B, n)
        One starting point per row.
    method : {"lbfgs", "bfgs", "gd", "newton"}
        As in :func:`minimize` (SciPy's names too); "newton" needs a native Problem (it uses
        its Hessian). On a GPU: "lbfgs".
    bounds : sequence of (lo, hi) pairs, Bounds-like, array of shape (B, n, 2), or None
        Bounds for "lbfgs" (then L-BFGS-B, as in :func:`minimize`), on the CPU and on CUDA
        alike: n pairs shared by every problem, an object with ``lb`` and ``ub`` (such as
        :class:`scipy.optimize.Bounds`) whose arrays broadcast to (B, n), or per-problem
        ``[..., 0]`` lower and ``[..., 1]`` upper bounds; None or +-inf for no bound. Rows
        of x0 are moved into their boxes first. On CUDA the bounds are checked on the host
        (GPU arrays among them are copied there) and each GPU thread runs the same
        L-BFGS-B (``optkern/optimize/lbfgsb_machine.hpp``).
    {optimizer_options}
        The same for every problem.
    num_threads : int, optional
        CPU threads, at most 1024 (default ``optkern.get_num_threads()``).
    {device}
        Only native problems run on CUDA.
    callback : callable, optional
        Native problems on the CPU only. ``callback(intermediate_result)`` receives the
        :class:`BatchResult` of the problems finished so far (the first rows of the batch;
        copies, which it may change without affecting the run); returning True (or
        ``np.True_``) stops the run: the problems not started yet keep x0 and get status 99
        (f and g are evaluated there once). The problems then run in chunks of rows sized to
        take about 0.1 s each; every problem is independent, so the results are those of one
        call. With a Python objective fun itself is called at every evaluation of the
        lock-step batch (which has no stop hook), and on CUDA the batch is one kernel launch:
        both refuse a callback.
    progress : bool
        Show how far the run has got: problems finished (native problems on the CPU, in
        chunks as for callback), evaluations of fun (a Python objective), or only the end
        (CUDA). A tqdm bar if tqdm is installed, else a line on stderr.
    {stream}

    Returns
    -------
    BatchResult
        The fields of :class:`OptimizeResult` stacked over the batch; ``result[b]`` is
        problem b's :class:`OptimizeResult`.

    Raises
    ------
    ValueError
        For bad arguments, naming the argument: x0 not of shape (B, n) or not finite, a
        ``fun`` that is neither callable nor a Problem, values or gradients of the wrong
        shape, "newton" with a Python objective, a Python objective or a method other than
        "lbfgs" on ``device="cuda"``, or the options :func:`minimize` rejects.

    Examples
    --------
    >>> import numpy as np
    >>> from optkern.optimize import minimize_batch, problems
    >>> X0 = np.random.default_rng(0).standard_normal((1000, 8))
    >>> res = minimize_batch(problems.rosenbrock(8), X0)
    >>> bool(res.success.all()), res.x.shape
    (True, (1000, 8))

    A Python objective evaluates the whole batch per call:

    >>> A = np.array([1.0, 10.0, 100.0])
    >>> def fun(X):
    ...     return 0.5 * (X * X) @ A, X * A
    >>> res = minimize_batch(fun, np.ones((5, 3)))
    >>> bool(np.allclose(res.x, 0, atol=1e-5)), res[0].nit > 0
    (True, True)

    Per-problem bounds (here each problem gets its own upper bound on x[0]):

    >>> box = np.full((1000, 8, 2), np.inf); box[..., 0] = -np.inf
    >>> box[:, 0, 1] = np.linspace(0.0, 0.5, 1000)
    >>> res = minimize_batch(problems.rosenbrock(8), X0, bounds=box)
    >>> bool((res.x[:, 0] <= box[:, 0, 1]).all()), bool(res.success.all())
    (True, True)

    A callback sees the problems finished so far (the first rows); True stops the others:

    >>> res = minimize_batch(problems.rosenbrock(8), X0, callback=lambda r: len(r.x) > 0)
    >>> done = int((res.status != 99).sum())
    >>> 0 < done < 1000, bool((res.x[done:] == X0[done:]).all())
    (True, True)
    """
    if _dask.is_dask(x0):  # native problems on dask rows: a lazy result (optkern/_dask.py)
        if not isinstance(fun, Problem):
            fail("fun", "a native optkern.optimize.problems.Problem for dask x0 (a Python "
                 "objective would run in this process)", describe(fun))
        given = {name: value for name, value in locals().items() if name != "settings"}
        return _dask.minimize_batch(minimize_batch, **given, **settings)
    method = check_method(method)
    native = isinstance(fun, Problem)
    if not native and not callable(fun):
        fail("fun", "a callable fun(X) -> (F, G) or an optkern.optimize.problems.Problem",
             describe(fun))
    where = resolve_device(device, [(x0, "x0")], stream)
    threads = 0 if num_threads is None else check_number(num_threads, "num_threads", low=1,
                                                         high=MAX_THREADS, integer=True)
    opts = options(method, **settings)
    check_callback(callback)
    progress = check_progress(progress)
    if callback is not None and (where == "cuda" or not native):
        fail("callback", "None " + ("on device='cuda' (the batch is one kernel launch)"
                                    if where == "cuda" else
                                    "with a Python objective (fun itself runs at every "
                                    "evaluation; use a native Problem or minimize)"),
             describe(callback))
    if where == "cuda":
        if not native:
            fail("fun", "a native Problem on device='cuda' (a Python objective runs on the CPU)",
                 describe(fun))
        if method not in GPU_METHODS:
            fail("method", f"one of {GPU_METHODS} on device='cuda'", repr(method))
        with ProgressBar(None, f"minimize_batch {method} (cuda)", "problems",
                         enabled=progress) as bar, _gpu.use_stream(stream):
            result = _cuda.minimize_batch(fun, x0, opts, bounds)
            bar.update_to(len(result.status))
            return result

    return _cpu.minimize_batch(fun, x0, native, method, opts, bounds, threads, callback,
                               progress)
