"""L-BFGS against SciPy's L-BFGS-B on the problem set, from standard and random starts: the
same minimiser, no more f+g evaluations (within 10%), and the strong Wolfe conditions on
every accepted step, checked on the values an instrumented objective saw."""

import numpy as np
import pytest
from reference import optimize as ref

from optkern.optimize import minimize, problems

scipy_optimize = pytest.importorskip("scipy.optimize")
threadpoolctl = pytest.importorskip("threadpoolctl")

SIZES = {"extended_powell": (8, 100), "extended_rosenbrock": (10, 100)}
CASES = [(name, n) for name in problems.ALL for n in SIZES.get(name, (10, 100))]
SCIPY_FTOL = 2.220446049250313e-09


def starts(p, count=11, seed=0):
    rng = np.random.default_rng([seed, p.n, len(p.name)])
    return [p.x0] + [p.x0 + 0.5 * rng.standard_normal(p.n) for _ in range(count)]


def scipy_lbfgsb(p, x0, gtol, ftol=SCIPY_FTOL):
    with threadpoolctl.threadpool_limits(1):
        return scipy_optimize.minimize(
            p, x0, jac=True, method="L-BFGS-B",
            options=dict(gtol=gtol, ftol=ftol, maxiter=20000, maxfun=20000, maxcor=10))


@pytest.mark.parametrize(("name", "n"), CASES)
def test_evaluations_within_ten_percent_of_scipy(name, n):
    """Summed over the standard start and 11 random ones. Single long runs on
    ill-conditioned problems drift apart by rounding (a two-loop recursion here, the compact
    form there), either way: over 60 starts the totals agree within 1% (DBV n=100: 1.008,
    extended Rosenbrock: 0.993), while 4 starts would exceed 1.10 one time in ten."""
    p = problems.get(name, n)
    ours = theirs = 0
    for x0 in starts(p):
        res = minimize(p, x0, max_iter=20000, max_fev=20000)
        sci = scipy_lbfgsb(p, x0, 1e-5)
        assert res.success, res.message
        ours += res.nfev
        theirs += sci.nfev
    assert ours <= 1.10 * theirs, (ours, theirs)


@pytest.mark.parametrize(("name", "n"), [(name, n) for name, n in CASES if n <= 10])
def test_same_minimiser_as_scipy(name, n):
    p = problems.get(name, n)
    # Powell's Hessian is singular at its minimiser: f ~ |x|^4 there, so x is only
    # determined to about the fourth root of f's accuracy.
    tol = 1e-3 if name == "extended_powell" else 1e-6
    for x0 in starts(p, count=2, seed=1):
        res = minimize(p, x0, gtol=1e-10, ftol=0.0, max_iter=20000, max_fev=20000)
        sci = scipy_lbfgsb(p, x0, 1e-10, ftol=0.0)
        assert res.status in (0, 2), res.message  # 2: rounding stops a search at 1e-10
        assert np.abs(res.jac).max() < 1e-7
        np.testing.assert_allclose(res.x, sci.x, atol=tol * max(1.0, np.abs(sci.x).max()))
        assert res.fun <= sci.fun + 1e-12 * max(1.0, abs(sci.fun))


class Recorder:
    """An objective that remembers every evaluation it was asked for."""

    def __init__(self, p):
        self.p = p
        self.seen = {}

    def __call__(self, x):
        f, g = self.p(x)
        self.seen[x.tobytes()] = (float(f), g.copy())
        return f, g


@pytest.mark.parametrize("method", ["lbfgs", "bfgs"])
@pytest.mark.parametrize(("name", "n"), [("rosenbrock", 30), ("extended_powell", 16),
                                         ("trigonometric", 20), ("quadratic", 40),
                                         ("discrete_boundary_value", 30)])
@pytest.mark.parametrize(("c1", "c2"), [(1e-4, 0.9), (0.1, 0.5)])
def test_every_accepted_step_satisfies_strong_wolfe(method, name, n, c1, c2):
    p = problems.get(name, n)
    objective = Recorder(p)
    accepted = []
    x0 = starts(p, 1)[1]
    res = minimize(objective, x0, method=method, c1=c1, c2=c2,
                   callback=lambda xk: accepted.append(xk.copy()))
    assert res.nit >= 5 and len(accepted) == res.nit
    np.testing.assert_array_equal(accepted[-1], res.x)
    points = [x0] + accepted
    for x0, x1 in zip(points[:-1], points[1:]):
        f0, g0 = objective.seen[x0.tobytes()]  # every iterate was an evaluated trial point
        f1, g1 = objective.seen[x1.tobytes()]
        assert ref.strong_wolfe(f0, g0, f1, g1, x1 - x0, c1, c2, rtol=1e-10)
