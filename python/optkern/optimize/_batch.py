"""minimize_batch: many independent problems, each with its own optimiser state."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from optkern import _backend, _dask, _gpu
from optkern._progress import (
    ProgressBar,
    callback_stops,
    check_callback,
    check_progress,
    next_chunk,
)
from optkern._validation import (
    MAX_THREADS,
    as_float_array,
    check_number,
    describe,
    fail,
    resolve_device,
)
from optkern.optimize._coerce import ObjectiveCoercer
from optkern.optimize._options import SCIPY_FTOL, check_method, check_precision, options
from optkern.optimize._result import CALLBACK_STOP, BatchResult, is_success, status_message
from optkern.optimize.problems import Problem

GPU_METHODS = ("lbfgs",)


def minimize_batch(
    fun: Callable[..., Any] | Problem,
    x0: Any,
    *,
    method: str = "lbfgs",
    m: int = 10,
    c1: float = 1e-4,
    c2: float = 0.9,
    gtol: float = 1e-5,
    ftol: float = SCIPY_FTOL,
    max_iter: int = 15000,
    max_fev: int = 15000,
    max_ls: int = 20,
    alpha0: float | None = None,
    tau: float = 0.5,
    eig_floor: float | None = None,
    num_threads: int | None = None,
    device: str = "cpu",
    callback: Callable[[BatchResult], Any] | None = None,
    progress: bool = False,
    stream: Any = None,
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
        As in :func:`minimize`; "newton" needs a native Problem (it uses its Hessian). On a
        GPU: "lbfgs".
    m, c1, c2, gtol, ftol, max_iter, max_fev, max_ls, alpha0, tau, eig_floor
        As in :func:`minimize`, the same for every problem.
    num_threads : int, optional
        CPU threads, at most 1024 (default ``optkern.get_num_threads()``).
    device : {"cpu", "cuda", "auto"}
        Where native problems run. "auto" follows the data: CUDA when x0 is a GPU array
        (CuPy, torch, DLPack), which is then used in place and the arrays of the result
        come back as the same kind.
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
    stream : int, torch.cuda.Stream or cupy.cuda.Stream, optional
        The CUDA stream to run on (CUDA runs only; a ValueError on the CPU). By default the
        current stream of the library that made the GPU arrays, or the legacy default stream
        for NumPy input.

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

    A callback sees the problems finished so far (the first rows); True stops the others:

    >>> res = minimize_batch(problems.rosenbrock(8), X0, callback=lambda r: len(r.x) > 0)
    >>> done = int((res.status != 99).sum())
    >>> 0 < done < 1000, bool((res.x[done:] == X0[done:]).all())
    (True, True)
    """
    if _dask.is_dask(x0):  # native problems on dask rows: a lazy result (optkern/_dask.py)
        return _dask.minimize_batch(**locals())
    method = check_method(method)
    native = isinstance(fun, Problem)
    if not native and not callable(fun):
        fail("fun", "a callable fun(X) -> (F, G) or an optkern.optimize.problems.Problem",
             describe(fun))
    where = resolve_device(device, [(x0, "x0")], stream)
    threads = 0 if num_threads is None else check_number(num_threads, "num_threads", low=1,
                                                         high=MAX_THREADS, integer=True)
    opts = options(method, m=m, c1=c1, c2=c2, gtol=gtol, ftol=ftol, max_iter=max_iter,
                   max_fev=max_fev, max_ls=max_ls, alpha0=alpha0, tau=tau,
                   eig_floor=eig_floor)
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
        from optkern.optimize._cuda_batch import minimize_problem_batch_cuda

        with ProgressBar(None, f"minimize_batch {method} (cuda)", "problems",
                         enabled=progress) as bar, _gpu.use_stream(stream):
            result = minimize_problem_batch_cuda(fun, x0, opts)
            bar.update_to(len(result.status))
            return result

    x = as_float_array(x0, "x0", ndim=2)
    if x.shape[1] == 0:
        fail("x0", "at least one variable per problem", f"shape {x.shape}")
    x = x.copy()
    opts = check_precision(opts, x.dtype)
    if native:
        if x.shape[1] != fun.n:
            fail("x0", f"shape (B, {fun.n}) for {fun!r}", f"shape {x.shape}")
        if callback is None and not progress:
            out = _backend._core.optimize_minimize_problem_batch(fun.kind, fun.parameter, x,
                                                                 opts, threads)
        else:
            with ProgressBar(x.shape[0], f"minimize_batch {method}", "problems",
                             enabled=progress) as bar:
                out = _native_in_chunks(fun, x, opts, threads, callback, bar)
    else:
        if method == "newton":
            fail("method", "'lbfgs', 'bfgs' or 'gd' with a Python objective ('newton' needs "
                 "the Hessians of a native Problem)", repr(method))
        coercer = ObjectiveCoercer(x.shape[1], x.dtype, jac_is_true=True, batch=x.shape[0])
        with ProgressBar(None, f"minimize_batch {method}", "evaluations",
                         enabled=progress) as bar:
            out = _backend._core.optimize_minimize_batch(_counted(fun, bar), coercer, x, opts,
                                                         threads)
    return batch_result(x, *out)


def _counted(fun: Callable[..., Any], bar: ProgressBar) -> Callable[..., Any]:
    """fun, reporting each evaluation to the bar (fun itself when the bar is off)."""
    if not bar.enabled:
        return fun

    def counted(X: np.ndarray) -> Any:
        out = fun(X)
        bar.update_to(bar.done + 1)
        return out

    return counted


def _native_in_chunks(fun: Problem, x: np.ndarray, opts: dict, threads: int,
                      callback: Callable[[BatchResult], Any] | None,
                      bar: ProgressBar) -> tuple:
    """optimize_minimize_problem_batch over chunks of rows of x (updated in place), each
    sized to take about 0.1 s, with the bar and the callback between chunks.
    Returns the outputs of the whole batch, as one call would."""
    core = _backend._core
    batch = x.shape[0]
    parts: list[tuple] = []
    done = 0
    chunk = 4 * (threads or _backend.get_num_threads())
    while done < batch:
        start, stop = done, min(batch, done + chunk)
        t0 = time.perf_counter()
        parts.append(core.optimize_minimize_problem_batch(fun.kind, fun.parameter,
                                                          x[done:stop], opts, threads))
        done = stop
        bar.update_to(done)
        if callback is not None and done < batch:
            so_far = [np.concatenate(field) for field in zip(*parts)]
            # x[:done].copy(): x is the run's state, which the callback may not change
            if callback_stops(callback(batch_result(x[:done].copy(), *so_far))):
                parts.append(_not_started(fun, x[done:]))
                bar.close("stopped by the callback")
                break
        chunk = next_chunk(stop - start, time.perf_counter() - t0)
    return tuple(np.concatenate(field) for field in zip(*parts))


def _not_started(fun: Problem, x: np.ndarray) -> tuple:
    """The outputs for problems a callback stopped before they ran: status 99 at x0."""
    f, g = _backend._core.optimize_problem_value_grad(fun.kind, fun.parameter, x)
    rows = x.shape[0]
    return (np.full(rows, CALLBACK_STOP, np.int32), f, g, np.zeros(rows, np.int64),
            np.ones(rows, np.int64), np.zeros(rows, np.int64))


def batch_result(x: Any, status: Any, f: Any, g: Any, nit: Any, nfev: Any,
                 nhev: Any) -> BatchResult:
    """A BatchResult from the compiled outputs (NumPy status; x, f and g of any kind)."""
    status = np.asarray(status, dtype=np.int32)
    nfev = np.asarray(nfev, dtype=np.int64)
    messages = {int(s): status_message(int(s)) for s in np.unique(status)}
    return BatchResult(
        x=x, fun=f, jac=g, nit=np.asarray(nit, dtype=np.int64), nfev=nfev, njev=nfev.copy(),
        nhev=np.asarray(nhev, dtype=np.int64), status=status,
        message=tuple(messages[int(s)] for s in status),
        success=np.array([is_success(int(s)) for s in status], dtype=bool),
    )
