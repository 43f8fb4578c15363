"""The results of optkern.optimize: the fields of scipy.optimize.OptimizeResult."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

# Why a run stopped, as the compiled loop reports it (cpp/include/optkern/optimize/types.hpp;
# 0 and 3 are convergence). Results report SciPy's L-BFGS-B status instead (SCIPY_STATUS),
# and the reason in words in their message.
GRADIENT_CONVERGED = 0
MAX_ITERATIONS = 1
MAX_EVALUATIONS = 2
FUNCTION_CONVERGED = 3
LINE_SEARCH_FAILED = 4
NON_FINITE_START = 5
CALLBACK_STOP = 99
IN_PROGRESS = -1  # the status of the intermediate results a callback receives

# SciPy's status for each reason: 0 converged, 1 iteration or evaluation limit, 2 abnormal
# termination (a failed line search, NaN or Inf at x0), 99 stopped by the callback.
SCIPY_STATUS = {GRADIENT_CONVERGED: 0, FUNCTION_CONVERGED: 0, MAX_ITERATIONS: 1,
                MAX_EVALUATIONS: 1, LINE_SEARCH_FAILED: 2, NON_FINITE_START: 2,
                CALLBACK_STOP: 99, IN_PROGRESS: IN_PROGRESS}


def scipy_status(reason: int) -> int:
    """SciPy's status for a reason code of the compiled loop."""
    return SCIPY_STATUS.get(int(reason), 2)


def status_message(status: int) -> str:
    """The message that goes with a status code."""
    if status == IN_PROGRESS:
        return "in progress"
    from optkern._backend import _core

    return _core.optimize.status_message(int(status))


def is_success(status: int) -> bool:
    return status in (GRADIENT_CONVERGED, FUNCTION_CONVERGED)


class _Mapping:
    """Dictionary-style read access, as scipy.optimize.OptimizeResult allows."""

    def __getitem__(self, key: str) -> Any:
        if not isinstance(key, str) or key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)

    def keys(self) -> list[str]:
        """The field names, as ``dict.keys()`` of a SciPy result gives them.

        Returns
        -------
        list of str
            ``x``, ``fun``, ``jac``, ``nit``, ``nfev``, ``njev``, ``nhev``, ``status``,
            ``message``, ``success`` (and ``hess_inv`` for :class:`OptimizeResult`), in
            that order.

        Examples
        --------
        >>> import numpy as np
        >>> from optkern.optimize import minimize, problems
        >>> res = minimize(problems.rosenbrock(2), np.zeros(2))
        >>> res.keys()[:3], "success" in res, res["nit"] == res.nit
        (['x', 'fun', 'jac'], True, True)
        """
        return [f.name for f in fields(self)]  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __contains__(self, key: object) -> bool:
        return key in self.keys()


@dataclass(frozen=True, eq=False)
class OptimizeResult(_Mapping):
    """The outcome of :func:`optkern.optimize.minimize`.

    The fields of :class:`scipy.optimize.OptimizeResult`, so that code written for SciPy
    reads it unchanged (``res.x``, ``res["fun"]``, ``res.success``).

    Attributes
    ----------
    x : ndarray, shape (n,)
        The solution: the last accepted iterate (the best point found).
    fun : float
        The objective at ``x``.
    jac : ndarray, shape (n,)
        The gradient at ``x``.
    nit : int
        Iterations (accepted steps).
    nfev, njev : int
        Evaluations of the objective and of its gradient (equal: they come together).
    nhev : int
        Hessian evaluations (``method="newton"``, and ``"bfgs"`` started from the Hessian).
    status : int
        As SciPy's L-BFGS-B: 0 converged (max projected gradient component <= gtol, or
        relative decrease of f <= ftol), 1 ``max_iter`` or ``max_fev`` reached, 2 abnormal
        termination (the line search found no acceptable step, or f or g is NaN or Inf at
        x0), 99 the callback stopped the run.
    message : str
        Why the run stopped, in words (which of the reasons above).
    success : bool
        True for status 0.
    hess_inv : LbfgsInverseHessian, ndarray or None
        The final inverse Hessian approximation: an operator (``matvec``, ``todense``, like
        SciPy's ``LbfgsInvHessProduct``) for "lbfgs", the (n, n) matrix for "bfgs", None for
        "newton", "gd" and batch entries.

    Examples
    --------
    >>> import numpy as np
    >>> from optkern.optimize import minimize, problems
    >>> res = minimize(problems.rosenbrock(4), np.zeros(4))
    >>> res.success, res.status, res.message == res["message"], res.nfev == res.njev
    (True, 0, True, True)
    >>> bool(np.allclose(res.x, 1, atol=1e-4)), res.fun < 1e-9
    (True, True)
    """

    x: np.ndarray
    fun: float
    jac: np.ndarray
    nit: int
    nfev: int
    njev: int
    nhev: int
    status: int
    message: str
    success: bool
    hess_inv: Any = None

    def __repr__(self) -> str:
        width = max(len(k) for k in self.keys())
        lines = [f"{k.rjust(width)}: {getattr(self, k)!r}".replace("\n", "\n" + " " * (width + 2))
                 for k in self.keys()]
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class BatchResult(_Mapping):
    """The outcome of :func:`optkern.optimize.minimize_batch`: one entry per problem.

    Every field of :class:`OptimizeResult`, stacked: ``x`` and ``jac`` have shape (B, n),
    the others shape (B,) (``message`` is a tuple of B strings). ``result[i]`` is the
    :class:`OptimizeResult` of problem ``i``; ``len(result)`` is B.

    Attributes
    ----------
    x, jac : ndarray, shape (B, n)
        Each problem's solution and the gradient there (the same kind of array as x0 on a
        GPU).
    fun : ndarray, shape (B,)
        The objective at each solution.
    nit, nfev, njev, nhev : ndarray of int64, shape (B,)
        Each problem's counts, as in :class:`OptimizeResult`.
    status : ndarray of int32, shape (B,)
        Each problem's status code, as in :class:`OptimizeResult` (SciPy's meaning).
    message : tuple of str
        Why each problem stopped, in words.
    success : ndarray of bool, shape (B,)
        True where the status is 0.

    Examples
    --------
    >>> import numpy as np
    >>> from optkern.optimize import minimize_batch, problems
    >>> res = minimize_batch(problems.rosenbrock(2), np.zeros((3, 2)))
    >>> len(res), res.x.shape, res.status.tolist(), bool(res.success.all())
    (3, (3, 2), [0, 0, 0], True)
    >>> first = res[0]
    >>> type(first).__name__, bool(first.nit == res.nit[0]), [r.success for r in res]
    ('OptimizeResult', True, [True, True, True])
    """

    x: np.ndarray
    fun: np.ndarray
    jac: np.ndarray
    nit: np.ndarray
    nfev: np.ndarray
    njev: np.ndarray
    nhev: np.ndarray
    status: np.ndarray
    message: tuple[str, ...]
    success: np.ndarray

    def __len__(self) -> int:
        return len(self.fun)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(key)
        i = range(len(self))[key]  # IndexError for out-of-range integers
        return OptimizeResult(
            x=self.x[i], fun=float(self.fun[i]), jac=self.jac[i], nit=int(self.nit[i]),
            nfev=int(self.nfev[i]), njev=int(self.njev[i]), nhev=int(self.nhev[i]),
            status=int(self.status[i]), message=self.message[i], success=bool(self.success[i]),
        )

    def __iter__(self):  # type: ignore[override]
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        converged = int(np.count_nonzero(self.success)) if len(self) else 0
        return (f"BatchResult({len(self)} problems, {converged} converged, "
                f"nit {int(self.nit.max()) if len(self) else 0} at most)")


def batch_result(x: Any, status: Any, f: Any, g: Any, nit: Any, nfev: Any,
                 nhev: Any) -> BatchResult:
    """A BatchResult from the compiled outputs (NumPy status; x, f and g of any kind)."""
    reason = np.asarray(status, dtype=np.int32)
    nfev = np.asarray(nfev, dtype=np.int64)
    messages = {int(s): status_message(int(s)) for s in np.unique(reason)}
    codes = {r: scipy_status(r) for r in messages}
    status = np.array([codes[int(r)] for r in reason], dtype=np.int32)
    return BatchResult(
        x=x, fun=f, jac=g, nit=np.asarray(nit, dtype=np.int64), nfev=nfev, njev=nfev.copy(),
        nhev=np.asarray(nhev, dtype=np.int64), status=status,
        message=tuple(messages[int(r)] for r in reason), success=status == 0,
    )
