"""The 53 Moré–Wild problems (tests/reference/mgh.py) against SciPy: lbfgs against
L-BFGS-B, bfgs against BFGS (with ftol=0: SciPy's BFGS stops on gtol only), unbounded and
in the box [x0 - 1, x0 + 1]. Every problem ends no worse than SciPy (up to 1e-8 of the
decrease SciPy achieved from f(x0)) and the total evaluations are within 5% (10% bounded).
Where rounding decides the end point (L-BFGS-B's ftol stop on mgh.ROUNDING_DECIDED: cube),
"ends" is the median over starts within 1e-13 of x0, for both.
bench/optimize_scipy_dropin.py prints the whole table."""

import numpy as np
import pytest
from reference import mgh

from optkern.optimize import minimize

scipy_optimize = pytest.importorskip("scipy.optimize")
threadpoolctl = pytest.importorskip("threadpoolctl")

SCIPY = {"lbfgs": "L-BFGS-B", "bfgs": "BFGS"}


def run_set(method, bounded):
    rows = []
    for p in mgh.problems():
        bounds = [(v - 1, v + 1) for v in p.x0] if bounded else None
        options = dict(ftol=0.0) if method == "bfgs" else {}

        def solve_ours(x, p=p, bounds=bounds, options=options):
            return minimize(p, x, method=method, bounds=bounds, **options)

        def solve_theirs(x, p=p, bounds=bounds):
            return scipy_optimize.minimize(p, x, jac=True, method=SCIPY[method], bounds=bounds)

        with np.errstate(all="ignore"), threadpoolctl.threadpool_limits(1):
            r = mgh.run_pair(p, method, solve_ours, solve_theirs)
        assert r.ours.nfev == r.ours_nfev
        rows.append((p, r.ours, r.ours_nfev, r.ours_f, r.theirs_f, r.theirs_nfev))
    return rows


@pytest.mark.slow
@pytest.mark.parametrize(("method", "bounded", "ratio"), [
    ("lbfgs", False, 1.05), ("bfgs", False, 1.05), ("lbfgs", True, 1.10),
])
def test_more_wild_set_against_scipy(method, bounded, ratio):
    rows = run_set(method, bounded)
    assert len(rows) == 53
    worse = [(p.name, ours_f, theirs_f) for p, _, _, ours_f, theirs_f, _ in rows
             if ours_f - theirs_f > 1e-8 * (p.value(p.x0) - theirs_f)]
    assert not worse, worse
    ours_total = sum(r[2] for r in rows)
    theirs_total = sum(r[5] for r in rows)
    assert ours_total <= ratio * theirs_total, (ours_total, theirs_total)
    if bounded:
        for p, ours, *_ in rows:
            assert (np.abs(ours.x - p.x0) <= 1 + 1e-12).all(), p.name


def test_problem_set_values():
    """Known minima (Moré, Garbow and Hillstrom 1981) at SciPy's solutions, and gradients
    against central differences at x0."""
    known = {"bard": 8.21487e-3, "kowalik_osborne": 3.07505e-4, "freudenstein_roth": 48.9842,
             "brown_dennis": 85822.2, "osborne_2": 4.01377e-2, "linear_full_rank": 36.0}
    seen = set()
    for p in mgh.problems():
        x = p.x0
        f, g = p(x)
        h = 1e-6 * np.maximum(1, np.abs(x))
        fd = np.array([(p.value(x + h[i] * e) - p.value(x - h[i] * e)) / (2 * h[i])
                       for i, e in enumerate(np.eye(p.n))])
        np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6 * max(1, np.abs(g).max()))
        name = mgh.NAMES[p.k]
        if name in known and name not in seen and p.scale == 0:
            seen.add(name)
            with threadpoolctl.threadpool_limits(1):
                res = scipy_optimize.minimize(p, x, jac=True, method="L-BFGS-B",
                                              options=dict(gtol=1e-10, ftol=0.0))
            assert res.fun == pytest.approx(known[name], rel=1e-4), name
    assert seen == set(known)
