"""Native test problems: value, gradient and Hessian computed in C++.

Passing one of these to :func:`optkern.optimize.minimize` or
:func:`~optkern.optimize.minimize_batch` runs the whole optimisation in C++ (no Python in
the loop). They are also plain callables returning ``(f, g)``, so the same object works with
``scipy.optimize.minimize(problem, x0, jac=True)``.

The set: the chained Rosenbrock function (:func:`rosenbrock`, equal to
``scipy.optimize.rosen``) and its average (:func:`rosenbrock_averaged`, thesis eq. 15), an
ill-conditioned quadratic (:func:`quadratic`), and problems of J. J. More, B. S. Garbow and
K. E. Hillstrom, "Testing unconstrained optimization software", ACM TOMS 7(1), 1981:
extended Rosenbrock (MGH 21), extended Powell singular (22), variably dimensioned (25),
trigonometric (26), discrete boundary value (28) and Broyden tridiagonal (30).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from optkern import _docs
from optkern._backend import _core
from optkern._validation import MAX_ELEMENTS, as_float_array, check_number, fail

__all__ = [
    "Problem",
    "rosenbrock",
    "rosenbrock_averaged",
    "extended_rosenbrock",
    "extended_powell",
    "quadratic",
    "trigonometric",
    "broyden_tridiagonal",
    "discrete_boundary_value",
    "variably_dimensioned",
    "ALL",
    "get",
]

# ProblemKind in cpp/include/optkern/optimize/problems.hpp
_KINDS = {
    "rosenbrock": 0,
    "rosenbrock_averaged": 1,
    "extended_rosenbrock": 2,
    "extended_powell": 3,
    "quadratic": 4,
    "trigonometric": 5,
    "broyden_tridiagonal": 6,
    "discrete_boundary_value": 7,
    "variably_dimensioned": 8,
}


# What Problem.fun and grad take and refuse (optkern._docs fills it in).
_points_doc = _docs.fill(parameters_points="""
    Parameters
    ----------
    x : array_like, shape (n,) or (..., n)
        One point, or one per index of the leading dimensions.""", raises_points="""
    Raises
    ------
    ValueError
        If the last axis of x is not n long.""")


@dataclass(frozen=True)
class Problem:
    """A native objective in ``n`` variables.

    Call it as ``f, g = problem(x)`` for x of shape (n,) or (..., n) (float32 stays
    float32). ``problem.x0`` is the problem's standard starting point, ``problem.hess(x)``
    its dense (n, n) Hessian, and ``problem.minimiser`` the minimiser where it is known in
    closed form (else None). Make problems with the constructors of this module
    (:func:`rosenbrock`, ..., :func:`get`), which check n.

    Parameters
    ----------
    name : str
        The problem's name, a key of :data:`ALL`.
    n : int
        The number of variables.
    parameter : float
        The problem's parameter, where it has one (the condition number of
        :func:`quadratic`).

    Raises
    ------
    ValueError
        If name is not a key of :data:`ALL`, n is not a valid size for the problem, or
        parameter is out of its range.

    Examples
    --------
    >>> import numpy as np
    >>> from optkern.optimize import problems
    >>> p = problems.rosenbrock(4)
    >>> f, g = p(np.ones(4))
    >>> float(f), bool(np.all(g == 0))
    (0.0, True)
    >>> p.x0.tolist()
    [-1.2, 1.0, -1.2, 1.0]
    """

    name: str
    n: int
    parameter: float = 0.0

    def __post_init__(self) -> None:
        # Problem is public: one built directly is checked as the named constructors check
        # theirs (the compiled problems trust name, n and parameter).
        if not isinstance(self.name, str) or self.name not in _KINDS:
            fail("name", f"one of {sorted(_KINDS)}", repr(self.name))
        object.__setattr__(self, "n", _size(self.n, self.name))
        if self.name == "quadratic":
            parameter = check_number(self.parameter, "parameter", low=1.0)
        else:
            parameter = check_number(self.parameter, "parameter", low=0.0, high=0.0)
        object.__setattr__(self, "parameter", float(parameter))

    @property
    def kind(self) -> int:
        """The problem's code in the C++ core (``ProblemKind`` in
        cpp/include/optkern/optimize/problems.hpp)."""
        return _KINDS[self.name]

    def __call__(self, x: Any) -> tuple[Any, np.ndarray]:
        """f and its gradient at x (shape (n,) or (..., n)): a float (an array over the
        leading dimensions) and an array shaped like x."""
        x = self._points(x)
        f, g = _core.optimize.problem_value_grad(self.kind, self.parameter, x)
        return (f.dtype.type(f.reshape(())) if x.ndim == 1 else f), g

    @_points_doc
    def fun(self, x: Any) -> Any:
        """f at x.

        {parameters_points}

        Returns
        -------
        float or ndarray
            f in x's dtype: a scalar for one point, an array of shape ``x.shape[:-1]``
            otherwise.

        {raises_points}

        Examples
        --------
        >>> import numpy as np
        >>> from optkern.optimize import problems
        >>> p = problems.rosenbrock(3)
        >>> float(p.fun(np.ones(3))), p.fun(np.zeros((2, 3))).tolist()
        (0.0, [2.0, 2.0])
        """
        return self(x)[0]

    @_points_doc
    def grad(self, x: Any) -> np.ndarray:
        """The gradient at x.

        {parameters_points}

        Returns
        -------
        ndarray
            The gradient, shaped and typed like x.

        {raises_points}

        Examples
        --------
        >>> import numpy as np
        >>> from optkern.optimize import problems
        >>> problems.rosenbrock(3).grad(np.zeros(3)).tolist()
        [-2.0, -2.0, 0.0]
        """
        return self(x)[1]

    def hess(self, x: Any) -> np.ndarray:
        """The dense Hessian at one point.

        Parameters
        ----------
        x : array_like, shape (n,)
            The point.

        Returns
        -------
        ndarray, shape (n, n)
            The symmetric Hessian, in x's dtype.

        Raises
        ------
        ValueError
            If x is not one point of shape (n,).

        Examples
        --------
        >>> import numpy as np
        >>> from optkern.optimize import problems
        >>> problems.rosenbrock(2).hess(np.ones(2)).tolist()
        [[802.0, -400.0], [-400.0, 200.0]]
        """
        x = self._points(x)
        if x.ndim != 1:
            fail("x", f"one point of shape ({self.n},)", f"shape {x.shape}")
        return _core.optimize.problem_hessian(self.kind, self.parameter, x)

    @property
    def x0(self) -> np.ndarray:
        """The standard starting point (float64)."""
        return _core.optimize.problem_start(self.kind, self.parameter, self.n)

    @property
    def minimiser(self) -> np.ndarray | None:
        """The minimiser where it is known in closed form; the minimum is then 0."""
        if self.name in ("rosenbrock", "rosenbrock_averaged", "extended_rosenbrock",
                         "variably_dimensioned"):
            return np.ones(self.n)
        if self.name in ("extended_powell", "quadratic"):
            return np.zeros(self.n)
        return None

    @property
    def tridiagonal_hessian(self) -> bool:
        """Whether Newton's method gets the Hessian in tridiagonal form (O(n) per solve
        instead of O(n^3))."""
        return self.name in ("rosenbrock", "rosenbrock_averaged", "extended_rosenbrock",
                             "quadratic")

    def _points(self, x: Any) -> np.ndarray:
        x = as_float_array(x, "x", min_ndim=1, finite=False)
        if x.shape[-1] != self.n:
            fail("x", f"points with {self.n} coordinates (shape (..., {self.n}))",
                 f"shape {x.shape}")
        return x

    def __repr__(self) -> str:
        extra = f", cond={self.parameter:g}" if self.name == "quadratic" else ""
        return f"problems.{self.name}({self.n}{extra})"


# (smallest n, n a multiple of) for the problems with rules beyond n >= 1
_SIZES = {"rosenbrock": (2, 1), "rosenbrock_averaged": (2, 1), "extended_rosenbrock": (2, 2),
          "extended_powell": (4, 4)}


# The sections the problem constructors share (optkern._docs fills them in).
_RETURNS = """Returns
-------
Problem
    Callable as ``f, g = problem(x)``; runs natively in :func:`~optkern.optimize.minimize`."""


def _sections_for(condition: str, refusal: str) -> str:
    return f"""Parameters
----------
n : int
    The number of variables, {condition}.

{_RETURNS}

Raises
------
ValueError
    If n is not {refusal}."""


_sections = _docs.fill(
    returns_problem=_RETURNS,
    sections_n_positive=_sections_for("n >= 1", "a positive integer"),
    sections_n_at_least_2=_sections_for("n >= 2", "an integer >= 2"))


def _size(n: Any, name: str) -> int:
    low, multiple = _SIZES.get(name, (1, 1))
    n = check_number(n, "n", low=low, high=MAX_ELEMENTS, integer=True)
    if n % multiple:
        fail("n", f"a multiple of {multiple} for {name}", repr(n))
    return n


@_sections
def rosenbrock(n: int) -> Problem:
    """The chained Rosenbrock function, ``scipy.optimize.rosen``.

    ``sum_i 100 (x[i+1] - x[i]**2)**2 + (1 - x[i])**2``; minimum 0 at ones. Standard start
    (-1.2, 1, -1.2, 1, ...).

    {sections_n_at_least_2}

    Examples
    --------
    >>> import numpy as np
    >>> from optkern.optimize import problems
    >>> p = problems.rosenbrock(5)
    >>> x = np.random.default_rng(0).standard_normal(5)
    >>> rosen = np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    >>> bool(np.isclose(p.fun(x), rosen)), float(p.fun(p.minimiser))
    (True, 0.0)
    """
    return Problem("rosenbrock", n)


@_sections
def rosenbrock_averaged(n: int) -> Problem:
    """The chained Rosenbrock function divided by n - 1 (thesis eq. 15, Figure 2).

    Minimum 0 at ones; the start of :func:`rosenbrock`.

    {sections_n_at_least_2}

    Examples
    --------
    >>> import numpy as np
    >>> from optkern.optimize import problems
    >>> x = np.random.default_rng(0).standard_normal(5)
    >>> bool(np.isclose(problems.rosenbrock_averaged(5).fun(x),
    ...                 problems.rosenbrock(5).fun(x) / 4))
    True
    """
    return Problem("rosenbrock_averaged", n)


@_sections
def extended_rosenbrock(n: int) -> Problem:
    """MGH 21: n/2 independent Rosenbrock pairs.

    ``sum_k 100 (x[2k+1] - x[2k]**2)**2 + (1 - x[2k])**2``; minimum 0 at ones; start
    (-1.2, 1, -1.2, 1, ...).

    Parameters
    ----------
    n : int
        The number of variables, even and >= 2.

    {returns_problem}

    Raises
    ------
    ValueError
        If n is not an even integer >= 2.

    Examples
    --------
    >>> import numpy as np
    >>> from optkern.optimize import problems
    >>> p = problems.extended_rosenbrock(4)
    >>> float(p.fun(np.ones(4))), float(p.fun(np.zeros(4)))
    (0.0, 2.0)
    """
    return Problem("extended_rosenbrock", n)


@_sections
def extended_powell(n: int) -> Problem:
    """MGH 22, extended Powell singular: n/4 independent blocks.

    Each block is ``(x1 + 10 x2)**2 + 5 (x3 - x4)**2 + (x2 - 2 x3)**4 + 10 (x1 - x4)**4``;
    minimum 0 at zero, where the Hessian is singular. Start (3, -1, 0, 1, ...).

    Parameters
    ----------
    n : int
        The number of variables, a positive multiple of 4.

    {returns_problem}

    Raises
    ------
    ValueError
        If n is not a positive multiple of 4.

    Examples
    --------
    >>> from optkern.optimize import problems
    >>> p = problems.extended_powell(8)
    >>> p.x0.tolist()[:4], float(p.fun(p.x0))
    ([3.0, -1.0, 0.0, 1.0], 430.0)
    """
    return Problem("extended_powell", n)


@_sections
def quadratic(n: int, cond: float = 1e4) -> Problem:
    """An ill-conditioned quadratic, ``0.5 * sum_i h_i x_i**2`` with ``h_i = cond**(i / (n - 1))``.

    Condition number ``cond``; minimum 0 at zero; start ones.

    Parameters
    ----------
    n : int
        The number of variables, n >= 1.
    cond : float
        The condition number of the Hessian, >= 1.

    {returns_problem}

    Raises
    ------
    ValueError
        If n is not a positive integer or cond is not a finite number >= 1.

    Examples
    --------
    >>> import numpy as np
    >>> from optkern.optimize import problems
    >>> problems.quadratic(3, cond=100.0).hess(np.zeros(3)).diagonal().tolist()
    [1.0, 10.0, 100.0]
    """
    cond = check_number(cond, "cond", low=1.0)
    return Problem("quadratic", n, float(cond))


@_sections
def trigonometric(n: int) -> Problem:
    """MGH 26, the trigonometric function: the sum of the squared residuals
    ``n - sum_j cos x_j + (i+1)(1 - cos x_i) - sin x_i``.

    Minimum 0; start 1/n. It has local minima with f > 0 (for n = 4, L-BFGS from the
    standard start stops at f = 3e-4).

    {sections_n_positive}

    Examples
    --------
    >>> from optkern.optimize import minimize, problems
    >>> p = problems.trigonometric(4)
    >>> res = minimize(p, p.x0)
    >>> p.x0.tolist(), res.success, bool(res.fun < p.fun(p.x0))
    ([0.25, 0.25, 0.25, 0.25], True, True)
    """
    return Problem("trigonometric", n)


@_sections
def broyden_tridiagonal(n: int) -> Problem:
    """MGH 30, Broyden tridiagonal: the sum of the squared residuals
    ``(3 - 2 x_i) x_i - x_{i-1} - 2 x_{i+1} + 1`` (with ``x_{-1} = x_n = 0``).

    Minimum 0; start -1.

    {sections_n_positive}

    Examples
    --------
    >>> from optkern.optimize import problems
    >>> p = problems.broyden_tridiagonal(4)
    >>> float(p.fun(p.x0))
    15.0
    """
    return Problem("broyden_tridiagonal", n)


@_sections
def discrete_boundary_value(n: int) -> Problem:
    """MGH 28: a discretised two-point boundary value problem.

    Minimum 0; ill-conditioned for large n. Start ``t_i (t_i - 1)`` with
    ``t_i = (i + 1) / (n + 1)``.

    {sections_n_positive}

    Examples
    --------
    >>> from optkern.optimize import problems
    >>> problems.discrete_boundary_value(4).x0.round(2).tolist()
    [-0.16, -0.24, -0.24, -0.16]
    """
    return Problem("discrete_boundary_value", n)


@_sections
def variably_dimensioned(n: int) -> Problem:
    """MGH 25, variably dimensioned: ``sum_j (x_j - 1)**2 + s**2 + s**4`` with
    ``s = sum_j (j+1)(x_j - 1)``.

    Minimum 0 at ones; start ``1 - (j+1)/n``.

    {sections_n_positive}

    Examples
    --------
    >>> import numpy as np
    >>> from optkern.optimize import problems
    >>> p = problems.variably_dimensioned(4)
    >>> p.x0.tolist(), float(p.fun(np.ones(4)))
    ([0.75, 0.5, 0.25, 0.0], 0.0)
    """
    return Problem("variably_dimensioned", n)


# Every problem constructor, by name.
ALL: dict[str, Callable[[int], Problem]] = {
    "rosenbrock": rosenbrock,
    "rosenbrock_averaged": rosenbrock_averaged,
    "extended_rosenbrock": extended_rosenbrock,
    "extended_powell": extended_powell,
    "quadratic": quadratic,
    "trigonometric": trigonometric,
    "broyden_tridiagonal": broyden_tridiagonal,
    "discrete_boundary_value": discrete_boundary_value,
    "variably_dimensioned": variably_dimensioned,
}


@_sections
def get(name: str, n: int) -> Problem:
    """The problem called ``name`` in ``n`` variables.

    Parameters
    ----------
    name : str
        A key of :data:`ALL`: "rosenbrock", "extended_powell", ...
    n : int
        The number of variables (each problem checks it as its constructor does).

    {returns_problem}

    Raises
    ------
    ValueError
        If name is unknown or n does not suit the problem.

    Examples
    --------
    >>> from optkern.optimize import problems
    >>> problems.get("extended_powell", 8)
    problems.extended_powell(8)
    """
    if name not in ALL:
        fail("name", f"one of {sorted(ALL)}", repr(name))
    return ALL[name](n)
