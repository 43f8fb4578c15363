"""SciPy's call surface for :func:`optkern.optimize.minimize`: method names, ``options=``,
``args=``, ``tol=``, finite-difference gradients (``jac=None``/``False``/"2-point"/"3-point")
and the L-BFGS inverse Hessian operator of the result (``hess_inv``).

The mapping of SciPy's names to optkern's is in :func:`optkern.optimize.minimize`'s
docstring (one table, ``optkern._docs.TEXTS["scipy_names"]``).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from optkern._validation import check_number, describe, fail

# Every accepted spelling of a method (compared lower-cased, as SciPy does).
METHOD_NAMES = {"lbfgs": "lbfgs", "l-bfgs-b": "lbfgs", "bfgs": "bfgs", "newton": "newton",
                "gd": "gd"}
ACCEPTED_METHODS = "'lbfgs' or 'L-BFGS-B', 'bfgs' or 'BFGS', 'newton' or 'Newton', 'gd'"

# SciPy option name -> optkern keyword.
OPTION_NAMES = {"maxcor": "m", "maxiter": "max_iter", "maxfun": "max_fev", "maxls": "max_ls",
                "gtol": "gtol", "ftol": "ftol", "c1": "c1", "c2": "c2"}
# optkern's own keywords, also accepted in options=.
OWN_NAMES = ("m", "max_iter", "max_fev", "max_ls", "alpha0", "tau", "eig_floor")
# Finite differences and output.
OTHER_OPTIONS = ("eps", "finite_diff_rel_step", "disp", "iprint", "norm")
# SciPy's default absolute finite-difference steps: L-BFGS-B's eps and BFGS's (sqrt(eps)).
DEFAULT_EPS = {"lbfgs": 1e-8, "bfgs": 1.4901161193847656e-08}
FD_SCHEMES = ("2-point", "3-point")


def resolve_method(method: Any) -> str:
    """optkern's name for `method` (None: "lbfgs"); ValueError listing the accepted names."""
    if method is None:
        return "lbfgs"
    if isinstance(method, str) and method.lower() in METHOD_NAMES:
        return METHOD_NAMES[method.lower()]
    fail("method", f"one of {ACCEPTED_METHODS}", repr(method))
    raise AssertionError  # unreachable


def merge_options(method: str, options: Any, tol: Any, given: dict[str, Any],
                  defaults: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The keyword values of a run with SciPy's ``options`` and ``tol`` applied.

    `given` holds the keywords as passed, `defaults` their defaults: an option that sets a
    keyword also passed with a non-default value is a ValueError (given twice). Returns the
    keywords and the extras (eps, finite_diff_rel_step, disp)."""
    kw = dict(given)
    extras: dict[str, Any] = {"eps": None, "finite_diff_rel_step": None, "disp": False}
    opts: dict[str, Any] = {}
    if options is not None:
        if not isinstance(options, dict):
            fail("options", "a dict of solver options (SciPy's names)", describe(options))
        opts = dict(options)
    if tol is not None:
        tol = check_number(tol, "tol", low=0.0)
        opts.setdefault("gtol", tol)
        if method == "lbfgs":
            opts.setdefault("ftol", tol)
    for name, value in opts.items():
        if name in OPTION_NAMES or name in OWN_NAMES:
            key = OPTION_NAMES.get(name, name)
            if given.get(key) is not None and given[key] != defaults.get(key) \
                    and given[key] != value:
                fail(f"options[{name!r}]", f"no other value given as keyword {key}={given[key]!r}",
                     repr(value))
            kw[key] = value
        elif name in ("eps", "finite_diff_rel_step"):
            extras[name] = value
        elif name == "disp":
            extras["disp"] = bool(value)
        elif name == "iprint":
            pass  # SciPy's printing level: optkern prints nothing per iteration
        elif name == "norm":
            if value not in (np.inf, float("inf")):
                fail("options['norm']", "inf (optkern's gtol is on max(abs(g)))", repr(value))
        else:
            accepted = sorted(OPTION_NAMES) + list(OTHER_OPTIONS) + list(OWN_NAMES)
            fail("options", f"option names among {', '.join(accepted)}", repr(name))
    return kw, extras


def with_args(f: Any, args: tuple) -> Any:
    """f(x, *args) as a function of x (f itself without args)."""
    if not args or not callable(f):
        return f

    def bound(x: np.ndarray) -> Any:
        return f(x, *args)

    return bound


def check_args(args: Any) -> tuple:
    if args is None:
        return ()
    if not isinstance(args, tuple):
        args = (args,)  # as SciPy does
    return args


class FiniteDifference:
    """``fg(x) -> (f, g)`` from a value-only ``fun``, with SciPy's finite-difference rule.

    The step is ``eps`` (absolute; where ``x + eps`` rounds to ``x``, the relative step
    below takes over), or with ``rel_step`` the relative step
    ``rel_step * sign(x) * max(1, |x|)`` (default ``sqrt(macheps)`` for "2-point" and
    ``macheps**(1/3)`` for "3-point"); each step is made exactly representable
    (``(x + h) - x``). With bounds, a step that leaves the box goes the other way
    (forward differences become backward ones, central ones one-sided). ``nfev`` counts
    every evaluation of ``fun``.
    """

    def __init__(self, fun: Callable[..., Any], scheme: str, eps: Any, rel_step: Any,
                 lower: np.ndarray | None = None, upper: np.ndarray | None = None):
        self.fun = fun
        self.scheme = scheme
        self.eps = None if eps is None else check_number(eps, "options['eps']", low=0.0,
                                                          low_open=True)
        self.rel_step = None if rel_step is None else check_number(
            rel_step, "options['finite_diff_rel_step']", low=0.0, low_open=True)
        self.lower = lower
        self.upper = upper
        self.nfev = 0

    def value(self, x: np.ndarray) -> float:
        self.nfev += 1
        out = self.fun(x)
        what = ("a real scalar f(x) (jac is None, False or a finite-difference scheme: fun "
                "returns the value only)")
        try:
            v = np.asarray(out)
        except ValueError:
            v = np.asarray(None)
        if v.size != 1 or v.dtype.kind not in "biuf":
            fail("fun", what, describe(out))
        return float(v.reshape(()))

    def steps(self, x: np.ndarray) -> np.ndarray:
        macheps = np.finfo(x.dtype).eps
        default_rel = macheps ** 0.5 if self.scheme == "2-point" else macheps ** (1 / 3)
        sign = np.where(x >= 0, 1.0, -1.0)
        relative = (self.rel_step or default_rel) * sign * np.maximum(1.0, np.abs(x))
        if self.eps is not None and self.rel_step is None:
            h = np.full(x.shape, self.eps, dtype=x.dtype)
            fallback = default_rel * sign * np.maximum(1.0, np.abs(x))
            h = np.where((x + h) - x == 0, fallback, h)
        else:
            h = relative
            h = np.where((x + h) - x == 0, default_rel * sign * np.maximum(1.0, np.abs(x)), h)
        return h.astype(x.dtype)

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        x = np.array(x, copy=True)
        f0 = self.value(x)
        h = self.steps(x)
        lo = self.lower if self.lower is not None else np.full(x.shape, -np.inf)
        hi = self.upper if self.upper is not None else np.full(x.shape, np.inf)
        g = np.empty(x.shape, dtype=x.dtype)
        xt = x.copy()
        for i in range(x.size):
            hi_ok = x[i] + abs(h[i]) <= hi[i]
            lo_ok = x[i] - abs(h[i]) >= lo[i]
            if self.scheme == "3-point" and hi_ok and lo_ok:
                xt[i] = x[i] + abs(h[i])
                up = xt[i] - x[i]
                fp = self.value(xt)
                xt[i] = x[i] - abs(h[i])
                down = x[i] - xt[i]
                fm = self.value(xt)
                g[i] = (fp - fm) / (up + down)
            else:
                step = h[i]
                if x[i] + step > hi[i] or x[i] + step < lo[i]:
                    step = -step
                xt[i] = x[i] + step
                dx = xt[i] - x[i]
                g[i] = (self.value(xt) - f0) / dx if dx != 0 else 0.0
            xt[i] = x[i]
        return f0, g


def disp_message(result: Any) -> None:
    """What ``options={"disp": True}`` prints at the end of a run."""
    print(f"{result.message}\n         Current function value: {result.fun:.6g}\n"
          f"         Iterations: {result.nit}\n         Function evaluations: {result.nfev}")


class LbfgsInverseHessian:
    """The L-BFGS approximation of the inverse Hessian at the solution, as an operator.

    Like :class:`scipy.optimize.LbfgsInvHessProduct`: ``matvec``, ``matmat``, ``dot``,
    ``@`` and ``todense``, built from the (s, y) pairs the run kept (oldest first). The
    initial matrix is the run's own ``(s'y / y'y) I`` from the newest pair (SciPy's operator
    uses the identity instead); with no pair it is the identity.

    Examples
    --------
    >>> import numpy as np
    >>> from optkern.optimize import minimize
    >>> A = np.diag([1.0, 4.0, 9.0])
    >>> res = minimize(lambda x: (0.5 * x @ A @ x, A @ x), np.ones(3), gtol=1e-10)
    >>> H = res.hess_inv.todense()
    >>> H.shape, bool(np.allclose(H, H.T))
    ((3, 3), True)
    """

    def __init__(self, s: np.ndarray, y: np.ndarray):
        self.s = np.asarray(s)
        self.y = np.asarray(y)
        n = self.s.shape[1]
        self.shape = (n, n)
        self.dtype = self.s.dtype
        sy = np.einsum("ij,ij->i", self.s, self.y)
        self.rho = 1.0 / sy
        self.gamma = float(sy[-1] / (self.y[-1] @ self.y[-1])) if len(sy) else 1.0

    def matvec(self, v: Any) -> np.ndarray:
        q = np.array(v, dtype=self.dtype).reshape(-1)
        if q.shape != (self.shape[0],):
            fail("v", f"a vector of shape ({self.shape[0]},)", f"shape {np.shape(v)}")
        k = len(self.rho)
        alpha = np.empty(k)
        for i in range(k - 1, -1, -1):
            alpha[i] = self.rho[i] * (self.s[i] @ q)
            q = q - alpha[i] * self.y[i]
        r = self.gamma * q
        for i in range(k):
            beta = self.rho[i] * (self.y[i] @ r)
            r = r + self.s[i] * (alpha[i] - beta)
        return r

    def rmatvec(self, v: Any) -> np.ndarray:
        return self.matvec(v)  # symmetric

    def matmat(self, m: Any) -> np.ndarray:
        m = np.asarray(m)
        return np.stack([self.matvec(m[:, j]) for j in range(m.shape[1])], axis=1)

    def dot(self, v: Any) -> np.ndarray:
        v = np.asarray(v)
        return self.matvec(v) if v.ndim == 1 else self.matmat(v)

    def __matmul__(self, v: Any) -> np.ndarray:
        return self.dot(v)

    def todense(self) -> np.ndarray:
        return self.matmat(np.eye(self.shape[0], dtype=self.dtype))

    def __repr__(self) -> str:
        return f"<{self.shape[0]}x{self.shape[1]} LbfgsInverseHessian, {len(self.rho)} pairs>"


def fd_scheme(jac: Any) -> str | None:
    """The finite-difference scheme `jac` asks for, or None when it gives the gradient."""
    if jac is None or jac is False:
        return "2-point"
    if isinstance(jac, str):
        if jac not in FD_SCHEMES:
            fail("jac", "True, a callable, None, False, '2-point' or '3-point'", repr(jac))
        return jac
    return None



def parse_bounds(bounds: Any, n: int, dtype: np.dtype,
                 batch: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """(lower, upper) arrays of shape (n,) (or (B, n) for a batch) from SciPy's ``bounds``,
    or None when there are none (every bound infinite).

    Accepted: a sequence of n ``(lo, hi)`` pairs, None meaning no bound; an object with
    ``lb`` and ``ub`` attributes, such as :class:`scipy.optimize.Bounds` (SciPy is not
    imported for plain pairs); for a batch also an array of shape (B, n, 2)."""
    if bounds is None:
        return None
    shape = (n,) if batch is None else (batch, n)
    what = (f"a sequence of {n} (lo, hi) pairs (None: no bound), or an object with lb and ub "
            "such as scipy.optimize.Bounds" + (", or an array of shape (B, n, 2)"
                                                 if batch is not None else ""))
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):
        lo, hi = _bound_array(bounds.lb, -np.inf), _bound_array(bounds.ub, np.inf)
    else:
        try:
            if batch is not None and np.ndim(bounds) == 3:
                arr = np.asarray(bounds, dtype=np.float64)
                if arr.shape[-1] != 2:
                    fail("bounds", what, f"shape {arr.shape}")
                lo, hi = arr[..., 0], arr[..., 1]
            else:
                pairs = list(bounds)
                if len(pairs) != n or any(len(p) != 2 for p in pairs):
                    fail("bounds", what, describe(bounds))
                lo = np.array([-np.inf if p[0] is None else p[0] for p in pairs], dtype=np.float64)
                hi = np.array([np.inf if p[1] is None else p[1] for p in pairs], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            if str(exc).startswith("bounds:"):
                raise
            fail("bounds", what, f"{describe(bounds)} ({exc})")
    try:
        lo = np.broadcast_to(lo, shape)
        hi = np.broadcast_to(hi, shape)
    except ValueError:
        fail("bounds", f"lower and upper bounds that broadcast to shape {shape}",
             f"shapes {np.shape(lo)} and {np.shape(hi)}")
    if np.isnan(lo).any() or np.isnan(hi).any():
        fail("bounds", "no NaN (use None or +-inf for no bound)", "NaN")
    if (lo > hi).any():
        fail("bounds", "lower <= upper for every variable", "a lower bound above its upper")
    if (lo == np.inf).any() or (hi == -np.inf).any():
        fail("bounds", "lower bounds below +inf and upper bounds above -inf", "an empty box")
    if np.isneginf(lo).all() and np.isposinf(hi).all():
        return None
    lo = np.ascontiguousarray(lo, dtype=dtype)
    hi = np.ascontiguousarray(hi, dtype=dtype)
    if (lo > hi).any():  # float32 rounding of close bounds
        fail("bounds", "lower <= upper in x0's dtype", "bounds that cross once rounded")
    return lo, hi


def _bound_array(value: Any, missing: float) -> np.ndarray:
    listed = isinstance(value, (list, tuple))
    arr = np.asarray([missing if v is None else v for v in value] if listed
                     else value, dtype=np.float64)
    return arr
