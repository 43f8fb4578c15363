"""The line search never loses progress (issue 14): a search that cannot finish moves to its
best point with sufficient decrease and the run goes on; the first step is scaled to move x
by 1 whatever the gradient's scale; the cases where optkern used to stop early (Bard from
10 x0, Jennrich-Sampson, Meyer, 4-atom Lennard-Jones, f = -exp(-x)) against SciPy."""

import numpy as np
import pytest
from reference import mgh

from optkern.optimize import minimize

scipy_optimize = pytest.importorskip("scipy.optimize")

SCIPY = {"lbfgs": "L-BFGS-B", "bfgs": "BFGS"}


class Recorder:
    """An objective that remembers every value it returned."""

    def __init__(self, fg):
        self.fg = fg
        self.values = []
        self.points = []

    def __call__(self, x):
        f, g = self.fg(x)
        self.values.append(f)
        self.points.append(np.array(x, copy=True))
        return f, g

    def best(self):
        finite = [v for v in self.values if np.isfinite(v)]
        return min(finite)


def lennard_jones(x):
    """4 atoms in 3-D: the energy sum 4 (r^-12 - r^-6) over pairs, and its gradient."""
    p = x.reshape(-1, 3)
    d = p[:, None, :] - p[None, :, :]
    r2 = (d ** 2).sum(-1)
    iu = np.triu_indices(len(p), 1)
    inv6 = 1.0 / r2[iu] ** 3
    coef = np.zeros(r2.shape)
    coef[iu] = 4 * (-12 * inv6 ** 2 + 6 * inv6) / r2[iu]
    coef = coef + coef.T
    return float(4 * (inv6 ** 2 - inv6).sum()), (coef[:, :, None] * d).sum(1).reshape(-1)


def test_lennard_jones_gradient():
    x = np.random.default_rng(0).uniform(-2, 2, 12)
    f, g = lennard_jones(x)
    h = 1e-6
    fd = [(lennard_jones(x + h * e)[0] - lennard_jones(x - h * e)[0]) / (2 * h)
          for e in np.eye(12)]
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6 * np.abs(g).max())


@pytest.mark.parametrize("method", ["lbfgs", "bfgs"])
def test_minus_exp_never_returns_a_point_worse_than_one_it_evaluated(method):
    """f = -exp(-x) falls without bound as x -> -inf (it overflows to -inf there). The
    searches run into the overflow; the run must end at the lowest finite value it saw,
    not at x0."""
    rec = Recorder(lambda x: (float(-np.exp(-x[0])), np.exp(-x)))
    with np.errstate(over="ignore"):
        res = minimize(rec, np.zeros(1), method=method)
    assert res.nit >= 1 and res.fun < -1e300
    assert res.fun == rec.best()
    assert res.status == 2 and not res.success  # no minimum: abnormal termination


@pytest.mark.parametrize("method", ["lbfgs", "bfgs"])
@pytest.mark.parametrize("scale", [1e-50, 1.0, 1e50])
def test_initial_step_moves_x_by_one_whatever_the_scale(method, scale):
    """SciPy's initial-step-scaling test: f = scale (x - 1)^2 from x0 = -1. The first trial
    moves x by exactly 1 (1/||g|| along -g) and no trial goes far away."""
    rec = Recorder(lambda x: (scale * float((x[0] - 1) ** 2), 2 * scale * (x - 1)))
    res = minimize(rec, np.array([-1.0]), method=method, gtol=0.0, ftol=0.0, max_iter=50)
    assert abs(rec.points[1][0] - rec.points[0][0]) == pytest.approx(1.0, rel=1e-12)
    assert max(abs(p[0]) for p in rec.points) <= 2.0 + 1e-12
    assert res.success and res.x[0] == pytest.approx(1.0, abs=1e-10)


def test_tiny_objective_converges_instead_of_stalling():
    """f = 1e-50 (x - 1)^2 with gtol=0: used to end with x moved by 1e-40."""
    for method in ("lbfgs", "bfgs"):
        res = minimize(lambda x: (1e-50 * float((x[0] - 1) ** 2), 2e-50 * (x - 1)),
                       np.zeros(1), method=method, gtol=0.0, ftol=0.0)
        assert res.success and res.x[0] == pytest.approx(1.0, abs=1e-12), method


def scipy_run(p, method, **kw):
    options = dict(ftol=0.0) if method == "bfgs" else {}  # SciPy's BFGS has no ftol test
    p.nfev = 0
    ours = minimize(p, p.x0, method=method, **options, **kw)
    ours_nfev = p.nfev
    p.nfev = 0
    theirs = scipy_optimize.minimize(p, p.x0, jac=True, method=SCIPY[method], **kw)
    return ours, ours_nfev, theirs, p.nfev


def no_worse(p, ours, theirs, tol=1e-8):
    """f no higher than SciPy's, up to tol times the decrease SciPy achieved from f(x0)."""
    return ours.fun - theirs.fun <= tol * (p.value(p.x0) - theirs.fun)


@pytest.mark.parametrize(("name", "scale", "method"), [
    ("bard", 1, "lbfgs"), ("bard", 1, "bfgs"), ("jennrich_sampson", 0, "lbfgs"),
    ("jennrich_sampson", 0, "bfgs"), ("meyer", 0, "lbfgs"), ("meyer", 0, "bfgs"),
])
def test_more_wild_cases_that_used_to_stop_early(name, scale, method):
    p = next(q for q in mgh.problems() if mgh.NAMES[q.k] == name and q.scale == scale)
    with np.errstate(all="ignore"):
        ours, _, theirs, _ = scipy_run(p, method)
    assert no_worse(p, ours, theirs), (ours.fun, theirs.fun, ours.message)


@pytest.mark.parametrize("method", ["lbfgs", "bfgs"])
def test_lennard_jones_from_seeded_starts(method):
    """Every start reaches the 4-atom minimum -6 (SciPy's L-BFGS-B stops at x0 on seeds 6
    and 18, where the first unit step puts two atoms on top of each other). BFGS runs with
    SciPy BFGS's stopping rule (gtol only): from seed 11, where f(x0) = 1e9, SciPy
    L-BFGS-B's relative ftol test would end it at -1.29."""
    options = dict(ftol=0.0) if method == "bfgs" else {}
    for seed in range(20):
        x0 = np.random.default_rng(seed).uniform(-2, 2, 12)
        with np.errstate(all="ignore"):
            res = minimize(lennard_jones, x0, method=method, **options)
        assert res.success and res.fun == pytest.approx(-6.0, abs=1e-6), (seed, res.fun)


@pytest.mark.parametrize("method", ["lbfgs", "bfgs"])
def test_final_point_is_the_best_evaluated_on_the_more_wild_set(method):
    """Over the 53 problems, f at the result is never above the lowest value evaluated."""
    for p in mgh.problems():
        rec = Recorder(p)
        with np.errstate(all="ignore"):
            res = minimize(rec, p.x0, method=method)
        best = rec.best()
        assert res.fun <= best + 1e-12 * abs(best), (p.name, res.fun, best)


def test_unusable_curvature_resets_the_memory_instead_of_stopping():
    """f = |x|^1.5 (summed): near 0 the curvature pairs are poor and searches fail on
    rounding; the run still ends converged or at a point no worse than any it evaluated."""
    def fg(x):
        a = np.abs(x)
        return float((a ** 1.5).sum()), 1.5 * np.sign(x) * np.sqrt(a)

    rec = Recorder(fg)
    res = minimize(rec, np.linspace(-2, 3, 6), gtol=1e-12, ftol=0.0)
    assert res.nit > 5 and res.fun <= rec.best()
    assert res.fun < 1e-10
