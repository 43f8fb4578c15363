"""Checking the options every method shares, and handing them to the compiled loop."""

from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np

from optkern import _backend
from optkern._progress import ProgressBar, callback_stops
from optkern._validation import INT_MAX, check_number, fail
from optkern.optimize._result import IN_PROGRESS, OptimizeResult, scipy_status, status_message
from optkern.optimize._scipy_api import resolve_method

# Method defaults that differ between methods (thesis section 1.1.5).
DEFAULT_EIG_FLOOR = {"newton": 1e-6, "bfgs": 1e-3}
SCIPY_FTOL = 2.220446049250313e-09  # SciPy L-BFGS-B's default: factr 1e7 times float64 eps


def check_method(method: Any) -> str:
    """optkern's name of `method`: its own names and SciPy's ("L-BFGS-B", "BFGS",
    "Newton"), case-insensitive; a ValueError lists the accepted ones."""
    return resolve_method(method)


def options(
    method: str, *, m: Any, c1: Any, c2: Any, gtol: Any, ftol: Any, max_iter: Any,
    max_fev: Any, max_ls: Any, alpha0: Any, tau: Any, eig_floor: Any,
    bfgs_hessian_start: bool = False,
) -> dict[str, Any]:
    """The options of a run, checked (ValueError naming the first bad one)."""
    m = check_number(m, "m", low=1, high=INT_MAX, integer=True)
    c1 = check_number(c1, "c1", low=0.0, high=1.0, low_open=True, high_open=True)
    c2 = check_number(c2, "c2", low=0.0, high=1.0, low_open=True, high_open=True)
    if c1 >= c2 and method in ("lbfgs", "bfgs"):
        fail("c1", f"c1 < c2 = {c2} (the strong Wolfe conditions need 0 < c1 < c2 < 1)", c1)
    gtol = check_number(gtol, "gtol", low=0.0)
    ftol = SCIPY_FTOL if ftol is None else check_number(ftol, "ftol", low=0.0)
    max_iter = check_number(max_iter, "max_iter", low=0, integer=True)
    max_fev = check_number(max_fev, "max_fev", low=1, integer=True)
    max_ls = check_number(max_ls, "max_ls", low=1, high=INT_MAX, integer=True)
    alpha0 = 1.0 if alpha0 is None else check_number(alpha0, "alpha0", low=0.0, low_open=True)
    tau = check_number(tau, "tau", low=0.0, high=1.0, low_open=True, high_open=True)
    if eig_floor is None:
        eig_floor = DEFAULT_EIG_FLOOR.get(method, 0.0)
    else:
        eig_floor = check_number(eig_floor, "eig_floor", low=0.0, low_open=True)
    # method: the kernels' Method (cpp/include/optkern/optimize/minimize.hpp) of that name
    code = _backend._core.optimize.OptimizeMethod.__members__[method]
    return dict(method=code, m=m, c1=c1, c2=c2, gtol=gtol, ftol=ftol,
                max_iter=max_iter, max_fev=max_fev, max_ls=max_ls, alpha0=alpha0, tau=tau,
                eig_floor=eig_floor, bfgs_hessian_start=bool(bfgs_hessian_start))


def to_settings(opts: dict[str, Any]) -> Any:
    """The checked options (and "history", "lower", "upper" where set) as the compiled
    loop's OptimizeSettings, one named field each."""
    settings = _backend._core.optimize.OptimizeSettings()
    for name, value in opts.items():
        setattr(settings, name, value)
    return settings


def check_precision(opts: dict[str, Any], dtype: np.dtype) -> dict[str, Any]:
    """The options of a float32 run, checked in float32: the loop runs in x0's dtype, where
    1e-300 is 0 and 1e300 is Inf (the compiled checks would then name the option with a
    message that seems to contradict its value)."""
    if dtype == np.float32:
        for name in ("c1", "c2", "alpha0", "tau", "eig_floor"):
            value = opts[name]
            single = float(np.float32(value))
            if value > 0 and (single == 0 or not np.isfinite(single)):
                fail(name, "a value float32 can hold (x0 is float32)", repr(value))
    return opts


def make_result(x: np.ndarray, status: int, fun: float, jac: np.ndarray, nit: int, nfev: int,
                nhev: int, hess_inv: Any = None) -> OptimizeResult:
    """The result of a run; `status` is the compiled loop's reason, reported with SciPy's
    status code and the reason in the message."""
    code = scipy_status(status)
    return OptimizeResult(x=x, fun=float(fun), jac=jac, nit=int(nit), nfev=int(nfev),
                          njev=int(nfev), nhev=int(nhev), status=code,
                          message=status_message(status), success=code == 0,
                          hess_inv=hess_inv)


def callback_hook(callback: Any) -> Callable[..., bool] | None:
    """The hook the compiled loop calls after every iteration: it passes the iterate to
    ``callback`` and returns True when the run is to stop.

    Like SciPy, a callback whose only parameter is named ``intermediate_result`` receives an
    :class:`OptimizeResult`; any other receives ``x`` (SciPy's older convention). The run
    stops when the callback returns True or raises StopIteration.
    """
    if callback is None:
        return None
    if not callable(callback):
        fail("callback", "a callable or None", repr(callback))
    try:
        params = list(inspect.signature(callback).parameters)
    except (TypeError, ValueError):
        params = []
    wants_result = params == ["intermediate_result"]

    def hook(x: np.ndarray, f: float, g: np.ndarray, nit: int, nfev: int, nhev: int) -> bool:
        if wants_result:
            arg: Any = OptimizeResult(x=x, fun=f, jac=g, nit=nit, nfev=nfev, njev=nfev,
                                      nhev=nhev, status=IN_PROGRESS,
                                      message=status_message(IN_PROGRESS), success=False)
        else:
            arg = x
        try:
            if wants_result:  # SciPy passes it by keyword: `def cb(*, intermediate_result)`
                return callback_stops(callback(intermediate_result=arg))
            return callback_stops(callback(arg))
        except StopIteration:
            return True

    return hook


def progress_hook(hook: Callable[..., bool] | None,
                  bar: ProgressBar) -> Callable[..., bool] | None:
    """`hook` with the progress bar updated first (hook itself when the bar is off, so a run
    without progress makes no Python call per iteration)."""
    if not bar.enabled:
        return hook

    def with_progress(x: np.ndarray, f: float, g: np.ndarray, nit: int, nfev: int,
                      nhev: int) -> bool:
        bar.update_to(nit, f"f={f:.6g}")
        return hook(x, f, g, nit, nfev, nhev) if hook is not None else False

    return with_progress


def finish(bar: ProgressBar, result: OptimizeResult) -> OptimizeResult:
    """Close the bar on the run's last iteration and how it ended; return the result."""
    bar.update_to(result.nit, f"f={result.fun:.6g}")
    bar.close(result.message)
    return result
