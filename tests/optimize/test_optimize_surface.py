"""SciPy's call surface of optkern.optimize.minimize: method names, options=, args=, tol=,
finite-difference gradients (jac None / False / "2-point" / "3-point"), status and
message, hess_inv, and callbacks declared as ``def cb(*, intermediate_result)``."""

import numpy as np
import pytest

from optkern.optimize import minimize, problems

scipy_optimize = pytest.importorskip("scipy.optimize")

A = np.diag([1.0, 3.0, 10.0])
B = np.array([1.0, -2.0, 0.5])


def quad(x, a=A, b=B):
    return 0.5 * float(x @ a @ x) - float(b @ x), a @ x - b


def quad_value(x, a=A, b=B):
    return quad(x, a, b)[0]


def quad_grad(x, a=A, b=B):
    return quad(x, a, b)[1]


X_STAR = np.linalg.solve(A, B)


@pytest.mark.parametrize(("name", "same_as"), [
    ("L-BFGS-B", "lbfgs"), ("l-bfgs-b", "lbfgs"), (None, "lbfgs"), ("BFGS", "bfgs"),
    ("bfgs", "bfgs"), ("Newton", "newton"), ("LBFGS", "lbfgs"),
])
def test_scipy_method_names_run_the_matching_method(name, same_as):
    hess = (lambda x: A) if same_as == "newton" else None
    ours = minimize(quad, np.ones(3), method=same_as, hess=hess)
    res = minimize(quad, np.ones(3), method=name, hess=hess)
    assert (res.nit, res.nfev, res.fun) == (ours.nit, ours.nfev, ours.fun)


def test_unknown_method_lists_the_accepted_names():
    with pytest.raises(ValueError, match="^method:.*L-BFGS-B.*BFGS.*Newton"):
        minimize(quad, np.ones(3), method="CG")


def test_options_take_scipy_names():
    p = problems.rosenbrock(20)
    assert minimize(p, p.x0, options={"maxiter": 7}).nit == 7
    res = minimize(p, p.x0, options={"maxfun": 12})
    assert res.nfev == 12 and res.status == 1
    same = minimize(p, p.x0, m=3, max_ls=5, gtol=1e-3, ftol=0.0)
    res = minimize(p, p.x0, options=dict(maxcor=3, maxls=5, gtol=1e-3, ftol=0.0))
    assert (res.nit, res.nfev, res.fun) == (same.nit, same.nfev, same.fun)
    res = minimize(p, p.x0, method="BFGS", options=dict(c1=0.01, c2=0.5, norm=np.inf))
    assert res.success
    # optkern's own names are accepted there too
    assert minimize(p, p.x0, options={"max_iter": 4}).nit == 4


def test_options_errors_name_the_option():
    with pytest.raises(ValueError, match="^options:.*maxcor"):
        minimize(quad, np.ones(3), options={"maxcorr": 5})
    with pytest.raises(ValueError, match=r"^options\['maxcor'\]"):
        minimize(quad, np.ones(3), m=4, options={"maxcor": 5})  # given twice
    with pytest.raises(ValueError, match=r"^options\['norm'\]"):
        minimize(quad, np.ones(3), options={"norm": 2})
    with pytest.raises(ValueError, match="^options:"):
        minimize(quad, np.ones(3), options=[("maxiter", 3)])
    with pytest.raises(ValueError, match="^max_iter:"):
        minimize(quad, np.ones(3), options={"maxiter": -1})
    # the same value in both places is fine
    assert minimize(quad, np.ones(3), m=4, options={"maxcor": 4}).success


def test_disp_prints_the_outcome(capsys):
    minimize(quad, np.ones(3), options={"disp": True, "iprint": 99})
    out = capsys.readouterr().out
    assert "converged" in out and "Iterations" in out


def test_tol_sets_ftol_and_gtol_as_scipy():
    p = problems.rosenbrock(10)
    for method in ("lbfgs", "bfgs"):
        loose = minimize(p, p.x0, method=method, tol=1e-2)
        tight = minimize(p, p.x0, method=method, tol=1e-10)
        assert loose.nit < tight.nit and tight.fun < loose.fun
    lbfgs = minimize(p, p.x0, tol=1e-3)
    assert (lbfgs.nit, lbfgs.fun) == (minimize(p, p.x0, gtol=1e-3, ftol=1e-3).nit,
                                      minimize(p, p.x0, gtol=1e-3, ftol=1e-3).fun)
    # options win over tol, as in SciPy
    assert minimize(p, p.x0, tol=1e-3, options={"gtol": 1e-9, "ftol": 0.0}).fun < lbfgs.fun


def test_args_reach_fun_jac_and_hess():
    a2, b2 = 2 * A, -B
    expected = np.linalg.solve(a2, b2)
    res = minimize(quad, np.zeros(3), (a2, b2))
    np.testing.assert_allclose(res.x, expected, atol=1e-6)
    res = minimize(quad_value, np.zeros(3), args=(a2, b2), jac=quad_grad)
    np.testing.assert_allclose(res.x, expected, atol=1e-6)
    res = minimize(quad, np.zeros(3), (a2, b2), method="Newton", hess=lambda x, a, b: a)
    np.testing.assert_allclose(res.x, expected, atol=1e-8)
    res = minimize(quad_value, np.zeros(3), args=a2, jac=None)  # a single argument
    np.testing.assert_allclose(res.x, np.linalg.solve(a2, B), atol=1e-5)
    with pytest.raises(ValueError, match="^args:"):
        p = problems.rosenbrock(3)
        minimize(p, p.x0, args=(1,))


@pytest.mark.parametrize("jac", [None, False, "2-point", "3-point"])
@pytest.mark.parametrize("method", ["lbfgs", "bfgs"])
def test_finite_difference_gradients(jac, method):
    calls = []

    def value(x):
        calls.append(np.array(x))
        return quad_value(x)

    res = minimize(value, np.zeros(3), method=method, jac=jac)
    assert res.success
    tol = 1e-5 if jac == "3-point" else 1e-4
    np.testing.assert_allclose(res.x, X_STAR, atol=tol)
    assert res.nfev == len(calls)  # every evaluation of fun
    per_gradient = 6 if jac == "3-point" else 3
    assert res.nfev == res.njev * (per_gradient + 1)


def test_finite_difference_steps_follow_scipy():
    """L-BFGS-B's default: the absolute step eps = 1e-8 (BFGS: 1.49e-8); where x + eps
    rounds to x, SciPy's relative step sqrt(eps) * max(1, |x|) with x's sign."""
    seen = []

    def value(x):
        seen.append(np.array(x))
        return quad_value(x)

    x0 = np.array([0.5, -3.0, 1e10])
    minimize(value, x0, jac=None, options={"maxiter": 0})
    steps = np.array([seen[i + 1][i] - x0[i] for i in range(3)])
    np.testing.assert_allclose(steps[:2], 1e-8, rtol=1e-6)
    assert steps[2] == pytest.approx(np.sqrt(np.finfo(float).eps) * 1e10, rel=1e-6)
    seen.clear()
    minimize(value, x0, method="BFGS", jac="2-point", options={"maxiter": 0})
    assert seen[1][0] - x0[0] == pytest.approx(1.4901161193847656e-08, rel=1e-6)
    seen.clear()
    minimize(value, x0, jac=None, options={"maxiter": 0, "eps": 1e-4})
    assert seen[1][0] - x0[0] == pytest.approx(1e-4, rel=1e-9)
    seen.clear()
    minimize(value, x0, jac=None, options={"maxiter": 0, "finite_diff_rel_step": 1e-3})
    assert seen[2][1] - x0[1] == pytest.approx(-3e-3, rel=1e-9)  # relative, with x's sign


def test_finite_differences_agree_with_scipy():
    p = problems.rosenbrock(4)

    def value(x):
        return p(x)[0]

    ours = minimize(value, p.x0, jac=None)
    theirs = scipy_optimize.minimize(value, p.x0, method="L-BFGS-B")
    np.testing.assert_allclose(ours.x, theirs.x, atol=1e-4)
    assert ours.nfev <= 1.1 * theirs.nfev


def test_status_follows_scipy():
    p = problems.rosenbrock(10)
    assert minimize(p, p.x0).status == 0
    assert minimize(p, p.x0, ftol=1e-3, gtol=0.0).status == 0  # ftol is convergence too
    assert minimize(p, p.x0, max_iter=3).status == 1
    assert minimize(p, p.x0, max_fev=3).status == 1
    res = minimize(lambda x: (float(x @ x), -2 * x), np.ones(2))  # a wrong gradient
    assert res.status == 2 and not res.success
    res = minimize(lambda x: (np.nan, x), np.ones(2))
    assert res.status == 2 and "NaN" in res.message


def test_hess_inv_is_an_operator_like_scipys():
    res = minimize(quad, np.ones(3), gtol=1e-12, ftol=0.0)
    H = res.hess_inv
    assert H.shape == (3, 3)
    dense = H.todense()
    np.testing.assert_allclose(dense, dense.T, atol=1e-12)
    assert np.linalg.eigvalsh(dense).min() > 0
    v = np.array([0.3, -1.0, 2.0])
    np.testing.assert_allclose(H.matvec(v), dense @ v, atol=1e-12)
    np.testing.assert_allclose(H @ v, dense @ v, atol=1e-12)
    np.testing.assert_allclose(H.dot(np.eye(3)), dense, atol=1e-12)
    # the newest pair's secant equation H y = s; on a quadratic y = A s
    s, y = H.s[-1], H.y[-1]
    np.testing.assert_allclose(H.matvec(y), s, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(y, A @ s, rtol=1e-8, atol=1e-14)
    with pytest.raises(ValueError, match="^v:"):
        H.matvec(np.ones(4))
    bfgs = minimize(quad, np.ones(3), method="BFGS", gtol=1e-10)
    assert isinstance(bfgs.hess_inv, np.ndarray) and bfgs.hess_inv.shape == (3, 3)
    np.testing.assert_allclose(bfgs.hess_inv, bfgs.hess_inv.T, atol=1e-12)
    assert np.linalg.eigvalsh(bfgs.hess_inv).min() > 0
    assert minimize(quad, np.ones(3), method="gd").hess_inv is None


def test_keyword_only_callback_gets_the_intermediate_result():
    seen = []

    def cb(*, intermediate_result):
        seen.append((intermediate_result.nit, intermediate_result.fun))

    res = minimize(quad, np.ones(3), callback=cb)
    assert res.success and [s[0] for s in seen] == list(range(1, res.nit + 1))


def test_stop_iteration_ends_the_run_with_scipys_status():
    calls = []

    def cb(intermediate_result):
        calls.append(intermediate_result.fun)
        if len(calls) % 2 == 0:
            raise StopIteration

    res = minimize(problems.rosenbrock(5), np.zeros(5), callback=cb)
    theirs = scipy_optimize.minimize(problems.rosenbrock(5), np.zeros(5), jac=True,
                                     method="L-BFGS-B", callback=cb)
    assert res.status == theirs.status == 99 and res.nit == theirs.nit == 2
    assert not res.success


def test_scipy_call_runs_unchanged():
    """The same call as SciPy's, with SciPy's keyword names only."""
    p = problems.rosenbrock(6)
    kwargs = dict(method="L-BFGS-B", jac=True, bounds=[(-2, 2)] * 6, tol=1e-8,
                  options={"maxiter": 500, "maxcor": 10})
    ours = minimize(p, p.x0, **kwargs)
    theirs = scipy_optimize.minimize(p, p.x0, **kwargs)
    np.testing.assert_allclose(ours.x, theirs.x, atol=1e-6)
    assert ours.status == theirs.status == 0
