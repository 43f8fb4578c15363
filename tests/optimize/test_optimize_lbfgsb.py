"""L-BFGS-B (bounds=) against SciPy's L-BFGS-B: SciPy's own bound tests, bounded native
problems (same solutions), per-problem bounds in minimize_batch, and the checks of
``bounds``."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from optkern.optimize import minimize, minimize_batch, problems

scipy_optimize = pytest.importorskip("scipy.optimize")
threadpoolctl = pytest.importorskip("threadpoolctl")


def power(x, p=2.0):
    return float((x[0] ** p + x[1] ** p) / p)


def power_grad(x, p=2.0):
    return x ** (p - 1)


def power_fg(x, p=2.0):
    return power(x, p), power_grad(x, p)


# SciPy's TestLBFGSBBounds: min (x0^2 + x1^2)/2 with x0 >= 1, from (0, -1): (1, 0).
BOUNDS = ((1, None), (None, None))
SOLUTION = (1, 0)


def test_scipy_lbfgsb_bounds():
    res = minimize(power, [0, -1], method="L-BFGS-B", jac=power_grad, bounds=BOUNDS)
    assert res.success, res.message
    np.testing.assert_allclose(res.x, SOLUTION, atol=1e-6)
    res = minimize(power_fg, [0, -1], (2.0,), bounds=BOUNDS)  # fun and jac together, args
    np.testing.assert_allclose(res.x, SOLUTION, atol=1e-6)


@pytest.mark.parametrize("jac", ["2-point", "3-point", None])
@pytest.mark.parametrize("args", [(2.0,), ()])
def test_scipy_lbfgsb_bounds_finite_differences(jac, args):
    """x0 = (0, -1) is outside the box: it is moved into it first."""
    res = minimize(power, [0, -1], args=args, method="L-BFGS-B", jac=jac, bounds=BOUNDS,
                   options={"finite_diff_rel_step": None})
    assert res.success, res.message
    np.testing.assert_allclose(res.x, SOLUTION, atol=1e-6)


@pytest.mark.parametrize("bounds", [[(10, 1), (1, 10)], [(1, 10), (10, 1)],
                                    [(10, 1), (10, 1)]])
def test_scipy_lbfgsb_incorrect_bounds(bounds):
    with pytest.raises(ValueError, match="^bounds:.*lower <= upper"):
        minimize(power, [0, -1], method="L-BFGS-B", jac=power_grad, bounds=bounds)


def test_finite_differences_stay_in_the_box():
    seen = []

    def value(x):
        seen.append(np.array(x))
        return float(((x - 3) ** 2).sum())

    res = minimize(value, [0.0, 0.0], jac="3-point", bounds=[(-1, 1), (0, 2)])
    np.testing.assert_allclose(res.x, [1, 2], atol=1e-8)
    pts = np.array(seen)
    assert (pts[:, 0] >= -1).all() and (pts[:, 0] <= 1).all()
    assert (pts[:, 1] >= 0).all() and (pts[:, 1] <= 2).all()


def scipy_lbfgsb(p, x0, bounds, **options):
    with threadpoolctl.threadpool_limits(1):
        return scipy_optimize.minimize(p, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                                       options=dict(maxiter=20000, maxfun=20000, **options))


@pytest.mark.parametrize("name", problems.ALL)
def test_bounded_native_problems_same_solutions_as_scipy(name):
    """A box around x0 that cuts the unconstrained minimiser off on several variables."""
    n = 8 if name == "extended_powell" else 10
    p = problems.get(name, n)
    rng = np.random.default_rng(len(name))
    lo = p.x0 - rng.uniform(0.1, 1.0, n)
    hi = p.x0 + rng.uniform(0.1, 1.0, n)
    lo[::4] = -np.inf
    bounds = list(zip(lo, hi))
    ours = minimize(p, p.x0, bounds=bounds, gtol=1e-10, ftol=0.0, max_iter=20000,
                    max_fev=20000)
    theirs = scipy_lbfgsb(p, p.x0, bounds, gtol=1e-10, ftol=0.0)
    assert ours.status in (0, 2), ours.message  # 2: rounding stops a search at 1e-10
    assert (ours.x >= lo).all() and (ours.x <= hi).all()
    np.testing.assert_allclose(ours.x, theirs.x, atol=1e-5 * max(1.0, np.abs(theirs.x).max()))
    assert ours.fun <= theirs.fun + 1e-10 * max(1.0, abs(theirs.fun))


def test_same_iterates_as_scipy_on_a_bounded_rosenbrock():
    """Same algorithm, same line search: the same number of evaluations."""
    p = problems.rosenbrock(8)
    bounds = [(-1.5, 0.5) if i % 2 == 0 else (None, 2.0) for i in range(8)]
    ours = minimize(p, p.x0, bounds=bounds)
    theirs = scipy_lbfgsb(p, p.x0, bounds)
    np.testing.assert_allclose(ours.x, theirs.x, atol=1e-5)
    assert abs(ours.nfev - theirs.nfev) <= max(2, theirs.nfev // 10)


def test_bounds_object_without_and_with_scipy():
    class Box:  # anything with lb and ub
        lb = np.array([1.0, -np.inf])
        ub = np.inf

    res = minimize(power_fg, [3.0, 2.0], bounds=Box())
    np.testing.assert_allclose(res.x, SOLUTION, atol=1e-6)
    res = minimize(power_fg, [3.0, 2.0], bounds=scipy_optimize.Bounds([1, -np.inf], np.inf))
    np.testing.assert_allclose(res.x, SOLUTION, atol=1e-6)


def test_plain_pairs_do_not_import_scipy():
    code = textwrap.dedent("""
        import sys
        import numpy as np
        from optkern.optimize import minimize
        res = minimize(lambda x: (float(x @ x), 2 * x), np.ones(2), bounds=[(0.5, None), (None, 2)])
        assert abs(res.x[0] - 0.5) < 1e-9 and abs(res.x[1]) < 1e-6, res.x
        assert "scipy" not in sys.modules, "scipy was imported"
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(("bounds", "match"), [
    ([(0, 1)], "^bounds:.*2 \\(lo, hi\\) pairs"),
    ([(0, 1, 2), (0, 1)], "^bounds:"),
    ([(np.nan, 1), (0, 1)], "^bounds:.*NaN"),
    ([(np.inf, np.inf), (0, 1)], "^bounds:.*empty"),
    ("box", "^bounds:"),
    (3, "^bounds:"),
])
def test_bad_bounds_raise_value_error(bounds, match):
    with pytest.raises(ValueError, match=match):
        minimize(power_fg, [0.0, 0.0], bounds=bounds)


def test_bounds_need_lbfgs():
    with pytest.raises(ValueError, match="^bounds:"):
        minimize(power_fg, [0.0, 0.0], method="BFGS", bounds=BOUNDS)
    # no finite bound at all is no bound
    res = minimize(power_fg, [3.0, 2.0], method="BFGS", bounds=[(None, None)] * 2)
    assert res.success


def test_fixed_variables_and_float32():
    res = minimize(power_fg, np.array([3.0, 2.0], np.float32), bounds=[(2, 2), (-1, 1)])
    assert res.x.dtype == np.float32 and res.x[0] == 2 and abs(res.x[1]) < 1e-4


def test_start_outside_the_box_is_moved_in():
    seen = []

    def fg(x):
        seen.append(np.array(x))
        return power_fg(x)

    minimize(fg, [-5.0, 7.0], bounds=[(-1, 1), (2, 3)])
    np.testing.assert_array_equal(seen[0], [-1, 3])


def test_bounded_hess_inv_and_callback():
    p = problems.rosenbrock(6)
    seen = []
    res = minimize(p, p.x0, bounds=[(-2, 0.8)] * 6, callback=lambda x: seen.append(x))
    assert all((x <= 0.8).all() for x in seen) and len(seen) == res.nit
    assert res.hess_inv.todense().shape == (6, 6)


@pytest.mark.parametrize("native", [True, False])
def test_batch_per_problem_bounds_match_single_runs(native):
    p = problems.rosenbrock(4)
    rng = np.random.default_rng(3)
    x0 = rng.uniform(-1.5, 1.5, (6, 4))
    lo = np.full((6, 4), -2.0)
    hi = rng.uniform(0.2, 1.5, (6, 4))
    hi[0] = np.inf
    box = np.stack([lo, hi], axis=-1)
    fun = p if native else (lambda X: p(X))
    batch = minimize_batch(fun, x0, bounds=box, num_threads=2)
    for b in range(6):
        single = minimize(p, x0[b], bounds=list(zip(lo[b], hi[b])))
        np.testing.assert_array_equal(batch.x[b], single.x)
        assert (batch.nit[b], batch.nfev[b], batch.status[b]) == (single.nit, single.nfev,
                                                                   single.status)
    # shared pairs broadcast to every problem
    shared = minimize_batch(p, x0, bounds=[(-2, 0.5)] * 4)
    assert (shared.x <= 0.5).all()


def test_batch_bounds_errors():
    p = problems.rosenbrock(2)
    with pytest.raises(ValueError, match="^bounds:"):
        minimize_batch(p, np.zeros((3, 2)), bounds=np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="^bounds:"):
        minimize_batch(p, np.zeros((3, 2)), method="gd", bounds=[(0, 1)] * 2)


def test_batch_with_a_callback_keeps_each_rows_bounds():
    p = problems.rosenbrock(4)
    x0 = np.random.default_rng(1).uniform(-1, 1, (40, 4))
    hi = np.linspace(0.1, 0.9, 40)[:, None] * np.ones((40, 4))
    box = np.stack([np.full((40, 4), -np.inf), hi], axis=-1)
    res = minimize_batch(p, x0, bounds=box, callback=lambda r: False)
    full = minimize_batch(p, x0, bounds=box)
    np.testing.assert_array_equal(res.x, full.x)
    assert (res.x <= hi).all()
