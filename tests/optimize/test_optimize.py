"""optkern.optimize: the problems against their NumPy references and finite differences, the
steps of each method against the reference formulas, the result and callback contract,
robustness, and bad input."""

import numpy as np
import pytest
from conftest import APPROXIMATE, EXACT
from reference import optimize as ref

import optkern
from optkern.optimize import OptimizeResult, minimize, problems

SIZES = {"extended_powell": (4, 8, 12), "extended_rosenbrock": (2, 6, 10)}
PROBLEM_CASES = [(name, n) for name in problems.ALL for n in SIZES.get(name, (2, 5, 9))]


def quadratic_fun(x):
    return float(x @ x), 2 * x


# --- the problems -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "n"), PROBLEM_CASES)
def test_problem_value_gradient_hessian_match_reference(name, n, rng):
    p = problems.get(name, n)
    for x in (p.x0, p.x0 + rng.standard_normal(n)):
        f, g, h = ref.PROBLEMS[name](x)
        pf, pg = p(x)
        assert np.isclose(pf, f, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(pg, g, rtol=1e-11, atol=1e-12 * np.abs(g).max())
        np.testing.assert_allclose(p.hess(x), h, rtol=1e-11, atol=1e-12 * np.abs(h).max())


@pytest.mark.parametrize(("name", "n"), PROBLEM_CASES)
def test_problem_derivatives_match_central_differences(name, n, rng):
    p = problems.get(name, n)
    x = p.x0 + 0.3 * rng.standard_normal(n)
    g_fd = ref.central_difference(p.fun, x)
    h_fd = ref.central_difference(p.grad, x)
    scale_g = max(1.0, np.abs(p.grad(x)).max())
    scale_h = max(1.0, np.abs(p.hess(x)).max())
    np.testing.assert_allclose(p.grad(x), g_fd, atol=1e-6 * scale_g, rtol=1e-6)
    np.testing.assert_allclose(p.hess(x), h_fd, atol=1e-6 * scale_h, rtol=1e-6)


@pytest.mark.parametrize("name", list(problems.ALL))
def test_problem_standard_start_and_minimiser(name):
    n = 8
    p = problems.get(name, n)
    np.testing.assert_array_equal(p.x0, ref.standard_start(name, n))
    if p.minimiser is not None:
        f, g = p(p.minimiser)
        assert f == 0 and np.all(g == 0)


def test_problem_evaluates_batches_and_keeps_float32(rng, dtype):
    p = problems.trigonometric(6)
    x = rng.standard_normal((3, 4, 6)).astype(dtype)
    f, g = p(x)
    assert f.shape == (3, 4) and g.shape == x.shape and f.dtype == g.dtype == dtype
    f0, g0 = p(x[1, 2])
    assert f[1, 2] == f0 and np.array_equal(g[1, 2], g0)
    f_ref, g_ref, _ = ref.trigonometric(x[1, 2].astype(np.float64))
    tol = EXACT[dtype]
    np.testing.assert_allclose(g0, g_ref, rtol=tol, atol=tol * np.abs(g_ref).max())


def test_problem_works_as_a_scipy_objective():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    p = problems.rosenbrock(5)
    res = scipy_optimize.minimize(p, p.x0, jac=True, method="L-BFGS-B")
    np.testing.assert_allclose(res.x, 1, atol=1e-3)
    x = np.linspace(-1, 1, 5)
    assert np.isclose(p.fun(x), scipy_optimize.rosen(x), rtol=1e-14)
    np.testing.assert_allclose(p.grad(x), scipy_optimize.rosen_der(x), rtol=1e-14)


@pytest.mark.parametrize(("make", "bad", "match"), [
    (problems.rosenbrock, 1, "^n:"),
    (problems.extended_rosenbrock, 3, "^n:"),
    (problems.extended_powell, 6, "^n:"),
    (problems.trigonometric, 2.5, "^n:"),
    (lambda n: problems.quadratic(n, cond=0.5), 4, "^cond:"),
])
def test_problem_constructors_reject_bad_sizes(make, bad, match):
    with pytest.raises(ValueError, match=match):
        make(bad)


def test_problem_rejects_points_of_the_wrong_size():
    with pytest.raises(ValueError, match="^x:"):
        problems.rosenbrock(4)(np.ones(3))
    with pytest.raises(ValueError, match="^name:"):
        problems.get("nope", 4)


# --- each method takes the step its formula says ---------------------------------------------


def record(fun):
    """Runs `minimize` with a callback that keeps every iterate (x, f, g)."""
    iterates = []

    def callback(intermediate_result):
        iterates.append((intermediate_result.x, intermediate_result.fun,
                         intermediate_result.jac))

    return iterates, callback


def test_lbfgs_steps_follow_the_two_loop_matrix(rng):
    """Every L-BFGS step is parallel to -H g with H built from the m newest pairs by the
    BFGS update (eq. 14) from (s'y / y'y) I (eq. 16): what the two-loop recursion computes."""
    p = problems.trigonometric(12)
    x0 = p.x0 + 0.2 * rng.standard_normal(12)
    f0, g0 = p(x0)
    iterates, callback = record(p)
    m = 4
    res = minimize(p, x0, m=m, callback=callback, gtol=1e-9)
    assert res.nit >= 8
    points = [(x0, f0, g0)] + iterates
    pairs = []
    for (x, _, g), (x_next, _, g_next) in zip(points[:-1], points[1:]):
        step = x_next - x
        direction = -g if not pairs else -ref.lbfgs_matrix(pairs[-m:]) @ g
        assert ref.cosine(step, direction) > 1 - 1e-8
        pairs.append((x_next - x, g_next - g))


def test_bfgs_steps_follow_the_inverse_update(rng):
    p = problems.variably_dimensioned(6)
    x0 = p.x0 + 0.1 * rng.standard_normal(6)
    iterates, callback = record(p)
    res = minimize(p, x0, method="bfgs", callback=callback)
    assert res.success and res.nit >= 5
    points = [(x0, *p(x0))] + iterates
    h_inv = None
    for (x, _, g), (x_next, _, g_next) in zip(points[:-1], points[1:]):
        step, s, y = x_next - x, x_next - x, g_next - g
        direction = -g if h_inv is None else -h_inv @ g
        assert ref.cosine(step, direction) > 1 - 1e-8
        if h_inv is None:  # Nocedal & Wright eq. 6.20 before the first update
            h_inv = (s @ y) / (y @ y) * np.eye(6)
        h_inv = ref.bfgs_inverse_update(h_inv, s, y)


def test_bfgs_started_from_the_floored_hessian(rng):
    p = problems.rosenbrock_averaged(6)
    x0 = rng.standard_normal(6)
    iterates, callback = record(p)
    res = minimize(p, x0, method="bfgs", hess=True, callback=callback)
    assert res.success and res.nhev == 1
    first_step = iterates[0][0] - x0
    direction = -ref.floored_inverse(p.hess(x0), 1e-3) @ p.grad(x0)
    assert ref.cosine(first_step, direction) > 1 - 1e-10
    # and with a Python Hessian
    res_py = minimize(p.__call__, x0, method="bfgs", hess=p.hess)
    np.testing.assert_allclose(res_py.x, res.x, rtol=0, atol=1e-12)
    assert (res_py.nit, res_py.nfev, res_py.nhev) == (res.nit, res.nfev, res.nhev)


@pytest.mark.parametrize("name", ["rosenbrock_averaged", "extended_powell", "trigonometric"])
def test_newton_steps_are_floored_newton_steps_with_armijo(name, rng):
    p = problems.get(name, 8)
    x0 = p.x0 + 0.5 * rng.standard_normal(8)
    iterates, callback = record(p)
    res = minimize(p, x0, method="newton", callback=callback, max_iter=30)
    points = [(x0, *p(x0))] + iterates
    assert len(points) > 3
    for (x, f, g), (x_next, f_next, _) in zip(points[:-1], points[1:]):
        direction = ref.modified_newton_direction(p.hess(x), g, 1e-6)
        step = x_next - x
        assert ref.cosine(step, direction) > 1 - 1e-8
        alpha = np.linalg.norm(step) / np.linalg.norm(direction)
        assert np.isclose(alpha, 2.0 ** np.round(np.log2(alpha)), rtol=1e-6)  # 1/2^k
        assert f_next <= f + 1e-4 * alpha * (g @ direction) + 1e-12 * abs(f)
    assert res.nhev in (res.nit, res.nit + 1)  # one per direction


def test_newton_with_a_python_hessian_matches_the_native_run(rng):
    p = problems.broyden_tridiagonal(10)
    x0 = p.x0 + 0.1 * rng.standard_normal(10)
    native = minimize(p, x0, method="newton")
    python = minimize(p.__call__, x0, method="newton", hess=p.hess)
    assert native.success and python.success
    np.testing.assert_allclose(python.x, native.x, atol=1e-12)
    assert (python.nit, python.nfev, python.nhev) == (native.nit, native.nfev, native.nhev)


def test_gradient_descent_takes_armijo_steps_along_minus_g(rng):
    p = problems.quadratic(5, cond=50)
    iterates, callback = record(p)
    res = minimize(p, p.x0, method="gd", alpha0=0.1, callback=callback, max_iter=50)
    points = [(p.x0, *p(p.x0))] + iterates
    for (x, f, g), (x_next, f_next, _) in zip(points[:-1], points[1:]):
        alpha = (x - x_next) @ g / (g @ g)
        np.testing.assert_allclose(x_next, x - alpha * g, atol=1e-14)
        assert np.isclose(alpha, 0.1 * 2.0 ** np.round(np.log2(alpha / 0.1)), rtol=1e-9)
        assert f_next <= f - 1e-4 * alpha * (g @ g)
    assert res.nit == 50 and res.status == 1


# --- the modified Newton direction ------------------------------------------------------------


def newton_step(h, g, floor=1e-6, tridiagonal=False):
    return optkern._backend._core._testing.optimize_modified_newton_step(
        np.ascontiguousarray(h, dtype=float), np.ascontiguousarray(g, dtype=float), floor,
        tridiagonal)


def tridiagonal(d, e):
    return np.diag(d) + np.diag(e, 1) + np.diag(e, -1)


@pytest.mark.parametrize("n", [1, 2, 7, 60])
def test_modified_newton_dense_matches_eigh(n, rng):
    a = rng.standard_normal((n, n))
    g = rng.standard_normal(n)
    for h, path in ((a @ a.T + n * np.eye(n), "cholesky"), (a + a.T, "eigen")):
        if n == 1:
            h = np.abs(h) if path == "cholesky" else -np.abs(h)
        p, took, floored = newton_step(h, g)
        expected = ref.modified_newton_direction(h, g, 1e-6)
        np.testing.assert_allclose(p, expected, rtol=1e-8, atol=1e-10 * np.abs(expected).max())
        if n > 2:
            assert took == path
        assert floored == np.count_nonzero(np.linalg.eigvalsh(h) < 1e-6)


@pytest.mark.parametrize("case", ["random", "clustered", "split", "singular", "diagonal"])
def test_modified_newton_tridiagonal_matches_eigh(case, rng):
    n = 40
    d, e = rng.standard_normal(n), rng.standard_normal(n - 1)
    if case == "clustered":  # Wilkinson-like: pairs of nearly equal eigenvalues
        d, e = np.abs(np.arange(n) - n // 2).astype(float) - 5, np.ones(n - 1)
    if case == "split":
        e[::3] = 0.0
    if case == "singular":
        d = np.zeros(n)
        e = np.ones(n - 1)  # a path graph's adjacency: eigenvalue 0 for odd n
        d, e = d[:-1], e[:-1]
    if case == "diagonal":
        d, e = np.repeat([-1.0, 2.0, 1e-9], [10, 20, 10]), np.zeros(n - 1)
    g = rng.standard_normal(d.size)
    h = tridiagonal(d, e)
    expected = ref.modified_newton_direction(h, g, 1e-3)
    tol = 1e-7 * np.abs(expected).max()
    p, took, floored = newton_step(np.concatenate([d, e]), g, 1e-3, tridiagonal=True)
    assert took == "tridiagonal"
    assert floored == np.count_nonzero(np.linalg.eigvalsh(h) < 1e-3)
    np.testing.assert_allclose(p, expected, atol=tol)
    p_dense, took_dense, _ = newton_step(h, g, 1e-3)  # a dense tridiagonal H is detected
    assert took_dense == "tridiagonal"
    np.testing.assert_allclose(p_dense, expected, atol=tol)


# --- the result and callback contract ----------------------------------------------------------


def test_result_has_scipy_fields_and_reads_like_a_dict():
    res = minimize(quadratic_fun, [3.0, -4.0])
    assert isinstance(res, OptimizeResult)
    for key in ("x", "fun", "jac", "nit", "nfev", "njev", "status", "message", "success"):
        assert key in res and res[key] is getattr(res, key)
    assert res.success and res.status == 0 and res.njev == res.nfev
    np.testing.assert_allclose(res.x, 0, atol=1e-6)
    np.testing.assert_allclose(res.jac, 2 * res.x)
    assert res.fun == pytest.approx(float(res.x @ res.x))
    with pytest.raises(KeyError):
        res["nope"]
    with pytest.raises(AttributeError):
        res.x = None  # frozen
    assert "success" in repr(res)


def test_float32_is_kept_and_x0_is_not_modified(dtype):
    p = problems.rosenbrock(6)
    x0 = p.x0.astype(dtype)
    before = x0.copy()
    res = minimize(p, x0)
    assert res.x.dtype == dtype and res.jac.dtype == dtype
    np.testing.assert_array_equal(x0, before)
    np.testing.assert_allclose(res.x, 1, atol=APPROXIMATE[dtype])
    calls = []

    def fun(x):
        calls.append(x.dtype)
        return p(x)

    minimize(fun, x0)
    assert set(calls) == {np.dtype(dtype)}


def test_integer_and_scalar_starts_become_float64():
    res = minimize(lambda x: (float(x @ x), 2 * x), [1, 2, 3])
    assert res.x.dtype == np.float64
    res = minimize(lambda x: (float((x[0] - 2) ** 2), 2 * (x - 2)), 5.0)
    assert res.x.shape == (1,) and abs(res.x[0] - 2) < 1e-6


def test_fun_is_called_once_per_evaluation_with_its_own_copy_of_x():
    """fun may keep x or write into it (SciPy gh-13740): neither reaches the solver."""
    p = problems.rosenbrock(10)
    seen = []

    def fun(x):
        seen.append(x)
        assert x.flags.writeable and x.flags.owndata
        value = p(x)
        x[:] = np.nan  # scribbling on x changes nothing
        return value

    res = minimize(fun, p.x0)
    assert len(seen) == res.nfev and res.success
    assert len({id(x) for x in seen}) == len(seen)
    assert all(np.isnan(x).all() for x in seen)  # kept arrays stay valid after the run


def test_jac_as_a_separate_callable():
    p = problems.extended_powell(8)
    counts = {"fun": 0, "jac": 0}

    def fun(x):
        counts["fun"] += 1
        return p.fun(x)

    def jac(x):
        counts["jac"] += 1
        return p.grad(x)

    res = minimize(fun, p.x0, jac=jac)
    native = minimize(p, p.x0)
    assert counts["fun"] == counts["jac"] == res.nfev == native.nfev
    np.testing.assert_allclose(res.x, native.x, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("stop", ["return_true", "stop_iteration"])
def test_callback_stops_the_run(stop):
    p = problems.rosenbrock(20)
    seen = []

    def callback(intermediate_result):
        assert isinstance(intermediate_result, OptimizeResult)
        seen.append((intermediate_result.nit, intermediate_result.fun))
        if intermediate_result.nit == 7:
            if stop == "return_true":
                return True
            raise StopIteration

    res = minimize(p, p.x0, callback=callback)
    assert res.status == 99 and not res.success and res.nit == 7
    assert [nit for nit, _ in seen] == list(range(1, 8))
    assert seen[-1][1] == res.fun
    res_py = minimize(lambda x: p(x), p.x0, callback=callback)  # the Python path too
    assert res_py.status == 99 and res_py.nit == 7


def test_legacy_callback_receives_x():
    xs = []
    res = minimize(quadratic_fun, [1.0, 2.0], callback=lambda xk: xs.append(xk.copy()))
    assert len(xs) == res.nit
    np.testing.assert_array_equal(xs[-1], res.x)


class Boom(Exception):
    pass


@pytest.mark.parametrize("where", ["fun", "jac", "callback", "batch"])
def test_exceptions_propagate_unchanged(where):
    error = Boom("from " + where)
    p = problems.rosenbrock(4)
    calls = {"n": 0}

    def raise_on_third(value):
        def wrapped(*args):
            calls["n"] += 1
            if calls["n"] == 3:
                raise error
            return value(*args)
        return wrapped

    with pytest.raises(Boom) as info:
        if where == "fun":
            minimize(raise_on_third(p), p.x0)
        elif where == "jac":
            minimize(p.fun, p.x0, jac=raise_on_third(p.grad))
        elif where == "callback":
            minimize(p, p.x0, callback=raise_on_third(lambda r: None))
        else:
            optkern.optimize.minimize_batch(raise_on_third(p), np.tile(p.x0, (3, 1)))
    assert info.value is error
    assert info.traceback[-1].name == "wrapped"


def test_hessian_exception_propagates_unchanged():
    error = Boom("hess")
    p = problems.rosenbrock(4)

    def hess(x):
        raise error

    with pytest.raises(Boom) as info:
        minimize(p.__call__, p.x0, method="newton", hess=hess)
    assert info.value is error


# --- robustness: a usable answer and the reason it stopped ------------------------------------


def test_nan_everywhere_stops_at_once_with_a_clear_status():
    calls = []

    def fun(x):
        calls.append(1)
        return np.nan, np.full_like(x, np.nan)

    for method in ("lbfgs", "bfgs", "gd"):
        calls.clear()
        res = minimize(fun, np.ones(3), method=method)
        assert res.status == 2 and not res.success and len(calls) == 1  # abnormal
        assert "NaN" in res.message
        assert "NaN or Inf at x0" in res.message
        np.testing.assert_array_equal(res.x, np.ones(3))


def test_nan_outside_the_domain_shrinks_the_step():
    """f = -sum log(2 - x) - 50 sum x is NaN for x >= 2 and nearly linear until close to
    it: the searches extrapolate into the NaN region and must shrink back."""
    nan_calls = []

    def fun(x):
        with np.errstate(invalid="ignore", divide="ignore"):
            f = -np.sum(np.log(2 - x)) - 50 * x.sum()
        if not np.isfinite(f):
            nan_calls.append(1)
            return np.nan, np.full_like(x, np.nan)
        return f, 1 / (2 - x) - 50

    for method in ("lbfgs", "bfgs", "gd"):
        nan_calls.clear()
        res = minimize(fun, np.full(3, -30.0), method=method)
        assert res.success, (method, res.message)
        np.testing.assert_allclose(res.x, 1.98, atol=1e-4)
        assert nan_calls, f"{method} never stepped into the NaN region"


def test_inf_gradient_at_a_trial_point_is_shrunk_too():
    inf_calls = []

    def fun(x):
        g = 2 * (x - 1)
        if x[0] > 1.8:
            inf_calls.append(1)
            g[0] = np.inf
        return float(np.sum((x - 1) ** 2)), g

    res = minimize(fun, np.array([-30.0, 0.0]), method="gd", alpha0=4.0)
    assert res.success and inf_calls
    np.testing.assert_allclose(res.x, 1, atol=1e-5)


def test_wrong_gradient_ends_with_a_failed_line_search_and_the_best_iterate():
    def fun(x):
        return float(np.sum(x ** 2)), -2 * x  # the gradient points uphill

    res = minimize(fun, np.ones(3))
    assert res.status == 2 and not res.success and "line search" in res.message
    assert res.fun == pytest.approx(3.0) and np.array_equal(res.x, np.ones(3))


def test_unbounded_below_stops_without_hanging():
    res = minimize(lambda x: (float(-x @ x), -2 * x), np.ones(2))
    assert res.status == 2 and not res.success and "unbounded below" in res.message
    assert res.nfev <= 1 + 20  # one search of max_ls evaluations, then a clear stop


def test_limits_are_respected():
    p = problems.rosenbrock(30)
    res = minimize(p, p.x0, max_iter=10)
    assert res.status == 1 and res.nit == 10
    res = minimize(p, p.x0, max_fev=25)
    assert res.status == 1 and res.nfev == 25 and res.nit < 25 and "max_fev" in res.message
    res = minimize(p, p.x0, max_iter=0)
    assert res.status == 1 and res.nit == 0 and res.nfev == 1
    np.testing.assert_array_equal(res.x, p.x0)


def test_stationary_start_returns_at_once():
    res = minimize(problems.rosenbrock(5), np.ones(5))
    assert res.success and res.status == 0 and res.nit == 0 and res.nfev == 1


def test_ftol_convergence_is_reported_as_success():
    p = problems.discrete_boundary_value(200)
    res = minimize(p, p.x0 + 0.1, gtol=0.0, ftol=1e-6)
    assert res.status == 0 and res.success and "ftol" in res.message


# --- bad input: ValueError naming the argument ----------------------------------------------


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(x0=[1.0, np.nan]), "^x0:"),
    (dict(x0=[1.0, np.inf]), "^x0:"),
    (dict(x0=np.ones((2, 2))), "^x0:"),
    (dict(x0=[]), "^x0:"),
    (dict(x0=["a", "b"]), "^x0:"),
    (dict(fun="not callable"), "^fun:"),
    (dict(fun=None), "^fun:"),
    (dict(m=0), "^m:"),
    (dict(m=2.5), "^m:"),
    (dict(c1=0.95), "^c1:"),
    (dict(c1=0.9), "^c1:"),
    (dict(c1=0.0), "^c1:"),
    (dict(c2=1.0), "^c2:"),
    (dict(gtol=-1e-3), "^gtol:"),
    (dict(gtol=np.nan), "^gtol:"),
    (dict(ftol=-1.0), "^ftol:"),
    (dict(max_iter=-1), "^max_iter:"),
    (dict(max_fev=0), "^max_fev:"),
    (dict(max_ls=0), "^max_ls:"),
    (dict(method="cg"), "^method:"),
    (dict(jac="4-point"), "^jac:"),
    (dict(jac=False), "^fun:"),  # finite differences need a value-only fun
    (dict(tau=1.0), "^tau:"),
    (dict(alpha0=-1.0), "^alpha0:"),
    (dict(eig_floor=0.0), "^eig_floor:"),
    (dict(method="newton"), "^hess:"),
    (dict(hess="yes"), "^hess:"),
    (dict(callback=3), "^callback:"),
])
def test_bad_arguments_raise_value_error_naming_them(kwargs, match):
    args = dict(fun=quadratic_fun, x0=[1.0, 2.0])
    args.update(kwargs)
    fun, x0 = args.pop("fun"), args.pop("x0")
    with pytest.raises(ValueError, match=match):
        minimize(fun, x0, **args)


@pytest.mark.parametrize(("returned", "match"), [
    (lambda x: (float(x @ x), np.ones(3)), "^jac: expected a gradient of shape \\(2,\\)"),
    (lambda x: (float(x @ x), np.ones((2, 1))), "^jac:"),
    (lambda x: (float(x @ x), np.ones(2, dtype=complex)), "^jac:"),
    (lambda x: (np.ones(2), 2 * x), "^fun:"),
    (lambda x: ("f", 2 * x), "^fun:"),
    (lambda x: float(x @ x), "^fun:"),
    (lambda x: (1.0, 2 * x, 3), "^fun:"),
])
def test_bad_objective_values_raise_value_error(returned, match):
    with pytest.raises(ValueError, match=match):
        minimize(returned, np.ones(2))


def test_gradient_list_and_other_dtypes_are_converted():
    res = minimize(lambda x: (float(x @ x), list(2 * x)), np.ones(3, dtype=np.float32))
    assert res.success and res.x.dtype == np.float32
    res = minimize(lambda x: (np.float32(x @ x), (2 * x).astype(np.float32)), np.ones(3))
    assert res.success and res.x.dtype == np.float64


def test_bad_hessian_shape_raises():
    with pytest.raises(ValueError, match="^hess:"):
        minimize(quadratic_fun, np.ones(2), method="newton", hess=lambda x: np.eye(3))


def test_native_problem_argument_checks():
    p = problems.rosenbrock(4)
    with pytest.raises(ValueError, match="^x0:"):
        minimize(p, np.ones(5))
    with pytest.raises(ValueError, match="^jac:"):
        minimize(p, p.x0, jac=p.grad)
    with pytest.raises(ValueError, match="^hess:"):
        minimize(p, p.x0, method="newton", hess=p.hess)
