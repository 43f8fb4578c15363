"""minimize: one smooth unconstrained problem, with SciPy's calling convention."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from optkern import _dask
from optkern._backend import _core
from optkern._progress import ProgressBar, check_progress
from optkern._validation import as_float_array, describe, fail
from optkern.optimize._coerce import ObjectiveCoercer
from optkern.optimize._options import (
    SCIPY_FTOL,
    callback_hook,
    check_method,
    finish,
    check_precision,
    make_result,
    options,
    progress_hook,
)
from optkern.optimize._result import OptimizeResult
from optkern.optimize.problems import Problem


def minimize(
    fun: Callable[..., Any] | Problem,
    x0: Any,
    *,
    method: str = "lbfgs",
    jac: bool | Callable[..., Any] = True,
    hess: bool | Callable[..., Any] | None = None,
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
    callback: Callable[..., Any] | None = None,
    progress: bool = False,
) -> OptimizeResult:
    """Minimise a smooth function of n variables, without constraints.

    A drop-in for ``scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B")``: the
    same objective, the same result fields. The loop runs in C++; a Python ``fun`` is called
    once per evaluation. With a native :class:`~optkern.optimize.problems.Problem`, no
    Python runs in the loop at all.

    Parameters
    ----------
    fun : callable or Problem
        ``fun(x) -> (f, g)``: the value (a real scalar) and the gradient (shape (n,)) at x.
        ``x`` is a fresh copy of the trial point for each call (as in SciPy): fun may keep it
        or write into it without changing the run. Exceptions raised by ``fun`` propagate
        unchanged.
    x0 : array_like, shape (n,)
        The starting point; float32 and float64 are kept (ints become float64).
    method : {"lbfgs", "bfgs", "newton", "gd"}
        * ``"lbfgs"``: limited-memory BFGS, history ``m``, H0 = (s'y / y'y) I (thesis
          eq. 16), strong Wolfe line search (More-Thuente, as SciPy's L-BFGS-B).
        * ``"bfgs"``: dense BFGS (thesis eq. 14) with the same line search; the first
          inverse Hessian is the floored inverse Hessian at x0 when ``hess`` is given, else
          a scaled identity.
        * ``"newton"``: Newton's method with the Hessian's eigenvalues floored at
          ``eig_floor`` and Armijo backtracking from ``alpha0`` (thesis section 1.1.2).
        * ``"gd"``: gradient descent with Armijo backtracking from ``alpha0`` (thesis
          Algorithm 1).
    jac : True or callable
        True: ``fun`` returns ``(f, g)``. A callable: ``fun(x)`` returns f and
        ``jac(x)`` the gradient.
    hess : callable, True or None
        ``hess(x) -> (n, n)`` array: required by ``"newton"``; for ``"bfgs"`` the first
        inverse Hessian comes from it. With a Problem, Newton uses the problem's own
        Hessian, and ``hess=True`` starts BFGS from it.
    m : int
        L-BFGS history (pairs kept).
    c1, c2 : float
        Sufficient decrease and curvature constants, ``0 < c1 < c2 < 1`` (c2 is used by
        the strong Wolfe search of "lbfgs" and "bfgs").
    gtol : float
        Stop when ``max(abs(g)) <= gtol`` (SciPy's ``gtol``).
    ftol : float
        Stop when ``(f_old - f) <= ftol * max(|f_old|, |f|, 1)`` (SciPy's ``ftol``).
    max_iter, max_fev : int
        Limits on iterations and on evaluations of ``fun``.
    max_ls : int
        Evaluations per strong Wolfe line search.
    alpha0 : float, optional
        First trial step of "gd" and "newton" (default 1; the thesis' Figure 2 uses 0.1 for
        gradient descent).
    tau : float
        Backtracking factor of "gd" and "newton".
    eig_floor : float, optional
        Eigenvalue floor: 1e-6 for Newton's Hessians, 1e-3 for BFGS's first matrix.
    callback : callable, optional
        Called after every iteration with an :class:`OptimizeResult` if its only
        parameter is named ``intermediate_result`` (as in SciPy), else with a copy of x.
        Returning True or raising StopIteration stops the run (status 99).
    progress : bool
        Show the iterations and the current f: a tqdm bar if tqdm is installed, else a line
        on stderr. It costs one Python call per iteration (none when False).

    Returns
    -------
    OptimizeResult
        ``x, fun, jac, nit, nfev, njev, nhev, status, message, success``. A run that cannot
        go on (a failed line search, NaN at x0, a limit) still returns the best iterate and
        says why in ``status`` and ``message``; only bad arguments raise.

    Raises
    ------
    ValueError
        For bad arguments, naming the argument: NaN in x0, a ``fun`` that is not callable,
        a gradient of the wrong shape, ``m < 1``, ``c1 >= c2``, ``gtol < 0``, ...

    Examples
    --------
    >>> import numpy as np
    >>> from optkern.optimize import minimize
    >>> def fun(x):
    ...     return float(x @ x), 2 * x
    >>> res = minimize(fun, np.array([3.0, -4.0]))
    >>> res.success, np.allclose(res.x, 0)
    (True, True)

    A native problem runs entirely in C++:

    >>> from optkern.optimize import problems
    >>> p = problems.rosenbrock(100)
    >>> res = minimize(p, p.x0)
    >>> res.success, bool(np.abs(res.x - 1).max() < 1e-3)
    (True, True)
    """
    if _dask.is_dask(x0):  # one problem is not a batch: minimize_batch takes dask rows
        _dask.minimize_refuses(x0)
    method = check_method(method)
    native = isinstance(fun, Problem)
    if not native and not callable(fun):
        fail("fun", "a callable or an optkern.optimize.problems.Problem", describe(fun))
    x = as_float_array(x0, "x0")
    if x.ndim == 0:
        x = x.reshape(1)
    if x.ndim != 1:
        fail("x0", "a 1-dimensional array", f"shape {x.shape}")
    if x.size == 0:
        fail("x0", "at least one variable", "an empty array")
    if isinstance(jac, np.bool_) or isinstance(hess, np.bool_):  # NumPy's True is True
        jac = bool(jac) if isinstance(jac, np.bool_) else jac
        hess = bool(hess) if isinstance(hess, np.bool_) else hess
    if jac is not True and not callable(jac):
        fail("jac", "True (fun returns (f, g)) or a callable returning the gradient",
             repr(jac))
    hook = callback_hook(callback)
    bar = ProgressBar(max_iter, f"minimize {method}", "iterations",
                      enabled=check_progress(progress))
    hook = progress_hook(hook, bar)
    x = x.copy()  # the run updates x in place; the caller's x0 stays as it was

    if native:
        if x.size != fun.n:
            fail("x0", f"shape ({fun.n},) for {fun!r}", f"shape {x.shape}")
        if jac is not True:
            fail("jac", "True with a native Problem (it computes its own gradient)", repr(jac))
        if hess is not None and hess is not True:
            fail("hess", "None or True with a native Problem (it has its own Hessian)",
                 describe(hess))
        opts = options(method, m=m, c1=c1, c2=c2, gtol=gtol, ftol=ftol, max_iter=max_iter,
                       max_fev=max_fev, max_ls=max_ls, alpha0=alpha0, tau=tau,
                       eig_floor=eig_floor, bfgs_hessian_start=hess is True)
        opts = check_precision(opts, x.dtype)
        with bar:
            status, f, g, nit, nfev, nhev = _core.optimize_minimize_problem(
                fun.kind, fun.parameter, x, opts, hook)
            return finish(bar, make_result(x, status, f, g, nit, nfev, nhev))

    if hess is not None and not callable(hess):
        fail("hess", "a callable hess(x) -> (n, n) array, or None", describe(hess))
    if method == "newton" and hess is None:
        fail("hess", "a callable hess(x) -> (n, n) array: method 'newton' needs the Hessian",
             "None")
    opts = options(method, m=m, c1=c1, c2=c2, gtol=gtol, ftol=ftol, max_iter=max_iter,
                   max_fev=max_fev, max_ls=max_ls, alpha0=alpha0, tau=tau,
                   eig_floor=eig_floor, bfgs_hessian_start=hess is not None)
    opts = check_precision(opts, x.dtype)
    if method not in ("newton", "bfgs"):
        hess = None
    coercer = ObjectiveCoercer(x.size, x.dtype, jac_is_true=jac is True)
    with bar:
        status, f, g, nit, nfev, nhev = _core.optimize_minimize(
            fun, None if jac is True else jac, hess, hook, x, opts, coercer)
        return finish(bar, make_result(x, status, f, g, nit, nfev, nhev))
