"""minimize: one smooth problem, unconstrained or within bounds, with SciPy's calling convention."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from optkern import _arrays, _dask, _docs
from optkern._backend import _core
from optkern._keywords import OPTIMIZER, OptimizerOptions
from optkern._progress import ProgressBar, check_progress
from optkern._validation import as_float_array, describe, fail
from optkern.optimize._checks import (
    callback_hook,
    check_method,
    check_precision,
    finish,
    make_result,
    options,
    progress_hook,
    to_settings,
)
from optkern.optimize._coerce import ObjectiveCoercer
from optkern.optimize._result import OptimizeResult
from optkern.optimize._scipy_api import (
    DEFAULT_EPS,
    FiniteDifference,
    LbfgsInverseHessian,
    check_args,
    disp_message,
    fd_scheme,
    merge_options,
    parse_bounds,
    with_args,
)
from optkern.optimize.problems import Problem

if TYPE_CHECKING:  # typing.Unpack is Python 3.11+; annotations are not evaluated
    from typing_extensions import Unpack


@_docs.fill
@_arrays.same_kind("x0")
@OPTIMIZER.after("options")
def minimize(
    fun: Callable[..., Any] | Problem,
    x0: Any,
    args: Any = (),
    *,
    method: str | None = "lbfgs",
    jac: bool | str | Callable[..., Any] | None = True,
    hess: bool | Callable[..., Any] | None = None,
    bounds: Any = None,
    tol: float | None = None,
    options: dict[str, Any] | None = None,
    callback: Callable[..., Any] | None = None,
    progress: bool = False,
    **settings: Unpack[OptimizerOptions],
) -> OptimizeResult:
    """Minimise a smooth function of n variables, optionally within bounds.

    A drop-in for ``scipy.optimize.minimize(fun, x0, args, method="L-BFGS-B", jac=...,
    bounds=..., tol=..., options=..., callback=...)`` and ``method="BFGS"``: the same
    objective, arguments and result fields. The loop runs in C++; a Python ``fun`` is
    called once per evaluation. With a native :class:`~optkern.optimize.problems.Problem`,
    no Python runs in the loop at all.

    **One difference from SciPy:** ``jac`` defaults to True here (``fun`` returns
    ``(f, g)``), where SciPy's default ``jac=None`` means finite differences of a value-only
    ``fun``. Pass ``jac=None`` (or False, "2-point", "3-point") for SciPy's behaviour.

    SciPy's names map to optkern's as follows (optkern's own keywords are kept):

    {scipy_names}

    Parameters
    ----------
    fun : callable or Problem
        ``fun(x) -> (f, g)``: the value (a real scalar) and the gradient (shape (n,)) at x.
        ``x`` is a fresh copy of the trial point for each call (as in SciPy): fun may keep it
        or write into it without changing the run. Exceptions raised by ``fun`` propagate
        unchanged.
    x0 : array_like, shape (n,)
        The starting point; float32 and float64 are kept (ints become float64). With
        bounds, it is first moved into the box (as SciPy does).
    args : tuple, optional
        Extra arguments: ``fun(x, *args)``, and likewise ``jac`` and ``hess``.
    method : {"lbfgs", "bfgs", "newton", "gd", "L-BFGS-B", "BFGS", "Newton"}
        Case-insensitive; None means "lbfgs".

        * ``"lbfgs"`` / ``"L-BFGS-B"``: limited-memory BFGS, history ``m``, H0 =
          (s'y / y'y) I (thesis eq. 16), strong Wolfe line search (More-Thuente, as SciPy's
          L-BFGS-B). With ``bounds``: L-BFGS-B (Byrd, Lu, Nocedal and Zhu 1995): the
          generalized Cauchy point, subspace minimisation with the compact L-BFGS matrix,
          a projected line search, and ``gtol`` on the projected gradient.
        * ``"bfgs"``: dense BFGS (thesis eq. 14) with the same line search; the first
          inverse Hessian is the floored inverse Hessian at x0 when ``hess`` is given, else
          a scaled identity.
        * ``"newton"``: Newton's method with the Hessian's eigenvalues floored at
          ``eig_floor`` and Armijo backtracking from ``alpha0`` (thesis section 1.1.2).
        * ``"gd"``: gradient descent with Armijo backtracking from ``alpha0`` (thesis
          Algorithm 1).
    jac : True, callable, None, False, "2-point" or "3-point"
        True (the default, unlike SciPy): ``fun`` returns ``(f, g)``. A callable:
        ``fun(x)`` returns f and ``jac(x)`` the gradient. None, False or "2-point": ``fun``
        returns f only and the gradient comes from forward differences; "3-point": central
        differences. The step is SciPy's: ``options["eps"]`` (default 1e-8 for "lbfgs",
        1.49e-8 for "bfgs") absolute, or ``options["finite_diff_rel_step"]`` relative;
        within bounds, steps that would leave the box go the other way. ``nfev`` then counts
        every evaluation of ``fun`` and ``njev`` the gradients.
    hess : callable, True or None
        ``hess(x) -> (n, n)`` array: required by ``"newton"``; for ``"bfgs"`` the first
        inverse Hessian comes from it. With a Problem, Newton uses the problem's own
        Hessian, and ``hess=True`` starts BFGS from it.
    bounds : sequence of (lo, hi) pairs, scipy.optimize.Bounds, or None
        Bounds ``lo <= x <= hi`` per variable ("lbfgs" only); None in a pair (or +-inf)
        means no bound. Anything with ``lb`` and ``ub`` attributes is taken as Bounds, so
        SciPy is not needed (nor imported) for plain pairs.
    tol : float, optional
        As SciPy: sets ``ftol`` and ``gtol`` for "lbfgs", ``gtol`` for the others, unless
        ``options`` sets them.
    options : dict, optional
        SciPy's solver options (``maxcor``, ``maxiter``, ``maxfun``, ``maxls``, ``gtol``,
        ``ftol``, ``eps``, ``finite_diff_rel_step``, ``disp``, ``c1``, ``c2``; ``iprint`` is
        accepted and ignored, ``norm`` must be inf) or optkern's own keyword names. An
        option that contradicts a keyword given with another value is a ValueError.
    {optimizer_options}
    callback : callable, optional
        Called after every iteration with an :class:`OptimizeResult`, by keyword, if its
        only parameter is named ``intermediate_result`` (as in SciPy, e.g.
        ``def cb(*, intermediate_result)``), else with a copy of x. Returning True or
        raising StopIteration stops the run (status 99, as SciPy).
    progress : bool
        Show the iterations and the current f: a tqdm bar if tqdm is installed, else a line
        on stderr. It costs one Python call per iteration (none when False).

    Returns
    -------
    OptimizeResult
        ``x, fun, jac, nit, nfev, njev, nhev, status, message, success, hess_inv``. A run
        that cannot go on (a failed line search, NaN at x0, a limit) still returns the best
        point found and says why in ``status`` and ``message``; only bad arguments raise.

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

    SciPy's spelling, with bounds, a value-only objective and extra arguments:

    >>> def value(x, c):
    ...     return float(((x - c) ** 2).sum())
    >>> res = minimize(value, np.zeros(3), (np.array([2.0, -2.0, 0.5]),), method="L-BFGS-B",
    ...                jac=None, bounds=[(-1, 1), (None, 0), (0, None)],
    ...                options={"maxiter": 100, "gtol": 1e-8})
    >>> res.status, np.round(res.x, 6).tolist()
    (0, [1.0, -2.0, 0.5])
    """
    if _dask.is_dask(x0):  # one problem is not a batch: minimize_batch takes dask rows
        _dask.minimize_refuses(x0)
    method = check_method(method)
    args = check_args(args)
    kw, extras = merge_options(method, options, tol, dict(settings), OPTIMIZER.defaults)
    if isinstance(jac, np.bool_) or isinstance(hess, np.bool_):  # NumPy's True is True
        jac = bool(jac) if isinstance(jac, np.bool_) else jac
        hess = bool(hess) if isinstance(hess, np.bool_) else hess
    scheme = fd_scheme(jac)
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
    if jac is not True and scheme is None and not callable(jac):
        fail("jac", "True (fun returns (f, g)), a callable returning the gradient, None, "
             "False, '2-point' or '3-point'", repr(jac))
    box = parse_bounds(bounds, x.size, x.dtype)
    if box is not None and method != "lbfgs":
        fail("bounds", "None with method " + repr(method) +
             " (bounds need 'lbfgs' / 'L-BFGS-B')", "bounds")
    hook = callback_hook(callback)
    bar = ProgressBar(kw["max_iter"] if isinstance(kw["max_iter"], int) else None,
                      f"minimize {method}", "iterations", enabled=check_progress(progress))
    hook = progress_hook(hook, bar)
    x = x.copy()  # the run updates x in place; the caller's x0 stays as it was
    settings = dict(kw)

    if native:
        if x.size != fun.n:
            fail("x0", f"shape ({fun.n},) for {fun!r}", f"shape {x.shape}")
        if jac is not True:
            fail("jac", "True with a native Problem (it computes its own gradient)", repr(jac))
        if hess is not None and hess is not True:
            fail("hess", "None or True with a native Problem (it has its own Hessian)",
                 describe(hess))
        if args:
            fail("args", "() with a native Problem (it takes no extra arguments)", repr(args))
        opts = options_for(method, settings, bfgs_hessian_start=hess is True)
        opts = check_precision(opts, x.dtype)
        _with_bounds(opts, box)
        with bar:
            status, f, g, nit, nfev, nhev, history = _core.optimize.minimize_problem(
                fun.kind, fun.parameter, x, to_settings(opts), hook)
            return _finish(bar, extras, make_result(x, status, f, g, nit, nfev, nhev,
                                                    _hess_inv(method, history)))

    if hess is not None and not callable(hess):
        fail("hess", "a callable hess(x) -> (n, n) array, or None", describe(hess))
    if method == "newton" and hess is None:
        fail("hess", "a callable hess(x) -> (n, n) array: method 'newton' needs the Hessian",
             "None")
    opts = options_for(method, settings, bfgs_hessian_start=hess is not None)
    opts = check_precision(opts, x.dtype)
    _with_bounds(opts, box)
    if method not in ("newton", "bfgs"):
        hess = None
    differences = None
    if scheme is not None:
        eps = extras["eps"]
        if eps is None and extras["finite_diff_rel_step"] is None:
            eps = DEFAULT_EPS.get(method, DEFAULT_EPS["lbfgs"])
        differences = FiniteDifference(with_args(fun, args), scheme, eps,
                                       extras["finite_diff_rel_step"],
                                       *(box if box is not None else (None, None)))
        fun, jac = differences, True
    else:
        fun, jac, hess = with_args(fun, args), with_args(jac, args), with_args(hess, args)
    coercer = ObjectiveCoercer(x.size, x.dtype, jac_is_true=jac is True)
    with bar:
        status, f, g, nit, nfev, nhev, history = _core.optimize.minimize(
            fun, None if jac is True else jac, hess, hook, x, to_settings(opts), coercer)
        result = make_result(x, status, f, g, nit, nfev, nhev, _hess_inv(method, history))
        if differences is not None:  # nfev: every call of fun; njev: the gradients
            result = replace(result, nfev=differences.nfev, njev=int(nfev))
        return _finish(bar, extras, result)


def options_for(method: str, kw: dict[str, Any], bfgs_hessian_start: bool) -> dict[str, Any]:
    """The checked options dict of the compiled loop, asking for the inverse Hessian."""
    opts = options(method, bfgs_hessian_start=bfgs_hessian_start, **kw)
    opts["history"] = method in ("lbfgs", "bfgs")
    return opts


def _with_bounds(opts: dict[str, Any], box: tuple[np.ndarray, np.ndarray] | None) -> None:
    if box is not None:
        opts["lower"], opts["upper"] = box


def _hess_inv(method: str, history: Any) -> Any:
    if history is None:
        return None
    if method == "lbfgs":
        return LbfgsInverseHessian(*history)
    return history


def _finish(bar: ProgressBar, extras: dict[str, Any], result: OptimizeResult) -> OptimizeResult:
    result = finish(bar, result)
    if extras["disp"]:
        disp_message(result)
    return result
