"""Fuzzing optkern.optimize (minimize, minimize_batch, the native problems) with adversarial
input: bad starts, bad options and objectives that return garbage. Every call returns a
consistent result or raises a ValueError/TypeError naming the argument at fault."""

import adversarial as adv
import numpy as np
import pytest
from conftest import ACCUMULATED
from hypothesis import given
from hypothesis import strategies as st
from invariants import assert_converged_implies_finite
from reference import optimize as ref

from optkern.optimize import minimize, minimize_batch, problems

pytestmark = pytest.mark.usefixtures("watchdog")

METHODS = adv.choice(["lbfgs", "lbfgs", "bfgs", "newton", "gd"], ["L-BFGS", "cg", 3])
STATUSES = {0, 1, 2, 99}  # SciPy's: converged, limit, abnormal, callback


class ObjectiveFailed(Exception):
    """Raised by an objective: it must reach the caller unchanged."""


def python_objective(kind, batch=False):
    """A Python objective, well behaved ("good") or returning garbage."""
    scale = np.array([1.0, 10.0, 100.0, 3.0, 0.5, 7.0])

    def good(x):
        w = scale[: x.shape[-1]]
        return 0.5 * (x * x) @ w, x * w

    def fun(x):
        f, g = good(x)
        if kind == "good":
            return f, g
        if kind == "nan":
            return f * np.nan, g
        if kind == "inf grad":
            return f, g * np.inf
        if kind == "grad shape":
            return f, np.append(g, 1.0)
        if kind == "complex":
            return f, g + 1j
        if kind == "object":
            return f, g.astype(object)
        if kind == "strings":
            return "f", g
        if kind == "single":
            return f
        if kind == "triple":
            return f, g, g
        if kind == "float32":
            return np.float32(f) if np.ndim(f) == 0 else f.astype(np.float32), g.astype(np.float32)
        if kind == "list":
            return (f.tolist() if batch else float(f)), g.tolist()
        if kind == "raises":
            raise ObjectiveFailed("boom")
        raise AssertionError(kind)

    return fun


# objectives that a run copes with, and ones whose return values are errors
OBJECTIVES = adv.choice(["good", "good", "good", "float32", "list", "nan", "inf grad"],
                        ["grad shape", "complex", "object", "strings", "single", "triple", "raises",
                         "not callable"])
# what a valid run may report for each objective; None: the call raises
OBJECTIVE_ERROR = {"grad shape": ("jac", "fun"), "complex": ("jac", "fun"),
                   "object": ("jac", "fun"), "strings": ("fun",), "single": ("fun",),
                   "triple": ("fun",), "not callable": ("fun",)}


def stop_iteration(x):
    raise StopIteration


def native_problems():
    sizes = adv.scalars(st.sampled_from([2, 4, 8, 3, 1, 12]),
                        [0, -2, 2.0, 2.5, True, None, "4", 10**30])
    return st.builds(lambda name, n: (name, n), st.sampled_from(sorted(problems.ALL)), sizes)


def problem_fault(name, n):
    """Whether problems.<name>(n) must raise (naming n)."""
    if isinstance(n, bool) or not adv.is_number(n) or not float(n).is_integer():
        return True
    low = {"extended_powell": 4, "rosenbrock": 2, "rosenbrock_averaged": 2,
           "extended_rosenbrock": 2}.get(name, 1)
    multiple = {"extended_powell": 4, "extended_rosenbrock": 2}.get(name, 1)
    return n < low or n % multiple != 0 or n > 2**59


def option_faults(method, o, dtype=np.float64):
    faults = set()
    for key in ("c1", "c2", "alpha0", "tau", "eig_floor"):  # out of float32's range
        value = o[key]
        if adv.finite_number(value) and value > 0 and dtype == np.float32 and (
                np.float32(value) == 0 or not np.isfinite(np.float32(value))):
            faults.add(key)
    for key in ("m", "max_ls"):
        if not (adv.is_number(o[key]) and float(o[key]).is_integer() and 1 <= o[key] < 2**31):
            faults.add(key)
    if not (adv.is_number(o["max_iter"]) and float(o["max_iter"]).is_integer()
            and 0 <= o["max_iter"] < 2**62):
        faults.add("max_iter")
    if not (adv.is_number(o["max_fev"]) and float(o["max_fev"]).is_integer()
            and 1 <= o["max_fev"] < 2**62):
        faults.add("max_fev")
    for key in ("c1", "c2", "tau"):
        if not (adv.finite_number(o[key]) and 0 < o[key] < 1):
            faults.add(key)
    if method in ("lbfgs", "bfgs") and adv.finite_number(o["c1"]) and adv.finite_number(o["c2"]) \
            and not o["c1"] < o["c2"]:
        faults |= {"c1", "c2"}
    for key in ("gtol", "ftol"):
        if not (adv.finite_number(o[key]) and o[key] >= 0):
            faults.add(key)
    for key in ("alpha0", "eig_floor"):
        if o[key] is not None and not (adv.finite_number(o[key]) and o[key] > 0):
            faults.add(key)
    return faults


OPTIONS = st.fixed_dictionaries({
    "m": adv.scalars(st.sampled_from([10, 1, 3, np.int32(5)])),
    "c1": adv.scalars(st.sampled_from([1e-4, 0.3])),
    "c2": adv.scalars(st.sampled_from([0.9, 0.1, 0.5])),
    "gtol": adv.scalars(st.sampled_from([1e-5, 0.0, 1e-12])),
    "ftol": adv.scalars(st.sampled_from([2.2e-9, 0.0])),
    "max_iter": adv.scalars(st.sampled_from([200, 0, 1, 5, 10**12])),
    "max_fev": adv.scalars(st.sampled_from([400, 1, 3])),
    "max_ls": adv.scalars(st.sampled_from([20, 1, 2])),
    "alpha0": st.one_of(st.none(), adv.scalars(st.sampled_from([1.0, 0.1, 1e-300]))),
    "tau": adv.scalars(st.sampled_from([0.5, 0.1, 0.99])),
    "eig_floor": st.one_of(st.none(), adv.scalars(st.sampled_from([1e-6, 1e-3]))),
})


def reference_value(problem, x):
    x = np.asarray(x, np.float64)
    with np.errstate(all="ignore"):  # starts near 1e300 overflow: f is then Inf
        if problem.name == "quadratic":
            return ref.quadratic(x, problem.parameter)[0]
        return ref.PROBLEMS[problem.name](x)[0]


def assert_unchanged(x, before):
    """x holds what it held: the same objects in an object array (NaN is not == NaN there),
    equal values with NaN equal to NaN otherwise."""
    if isinstance(x, np.ndarray) and x.dtype == object:
        assert all(p is q for p, q in zip(x.ravel(), before.ravel()))
    else:
        np.testing.assert_array_equal(x, before)


@given(native=st.booleans(), problem=native_problems(),
       objective=OBJECTIVES, n=adv.dims(0, 5), data=st.data(), method=METHODS,
       jac=adv.choice([True, True, "callable"], ["4-point", "yes"]),
       hess=adv.choice([None, None, "callable", True], ["bad"]),
       callback=adv.choice([None, None, "stop", "StopIteration", "result"], [3]),
       options=OPTIONS)
def test_minimize(native, problem, objective, n, data, method, jac, hess, callback, options):
    if native:
        name, size = problem
        outcome = adv.call(problems.ALL[name], size, arguments=("n",))
        if problem_fault(name, size):
            return adv.expect_error(outcome, "n")
        fun = adv.expect_ok(outcome)
        n = fun.n if data.draw(st.booleans(), label="right size") else n
    else:
        fun = 3.0 if objective == "not callable" else python_objective(objective)
    shape = data.draw(adv.choice([(n,), (n,), ()], [(2, n)]), label="x0 shape")
    xs = data.draw(adv.specs(shape), label="x0")
    x0 = xs.build()
    x0_before = np.array(x0, copy=True)
    jac_arg = (lambda x: python_objective("good")(x)[1]) if jac == "callable" else jac
    if not native and jac == "callable" and callable(fun):
        inner = fun
        fun = lambda x: inner(x)[0] if objective != "single" else inner(x)  # noqa: E731
    hess_arg = {"callable": lambda x: np.diag([1.0, 10, 100, 3, 0.5, 7][: x.size]),
                "bad": "bad"}.get(hess, hess)
    stops = []
    callback_arg = {"stop": lambda x: True, "result": lambda intermediate_result: None,
                    "StopIteration": stop_iteration}.get(callback, callback)
    try:
        outcome = adv.call(minimize, fun, x0, method=method, jac=jac_arg, hess=hess_arg,
                           callback=callback_arg, **options,
                           arguments=("fun", "x0", "method", "jac", "hess", "callback") +
                           tuple(options))
    except ObjectiveFailed:
        assert objective == "raises" and not native
        return
    assert_unchanged(x0, x0_before)  # the caller's x0 is never written
    faults = set()
    if method not in ("lbfgs", "bfgs", "newton", "gd"):
        faults.add("method")
    if xs.rejected_dtype or adv.has_nonfinite(x0) or x0.ndim > 1 or x0.size == 0:
        faults.add("x0")
    if jac is not True and jac != "callable":
        faults.add("jac")
    if callback == 3:
        faults.add("callback")
    if native:
        if x0.size != fun.n:
            faults.add("x0")
        if hess in ("callable", "bad"):
            faults.add("hess")
        if jac == "callable":
            faults.add("jac")
    elif hess not in (None, "callable") or (method == "newton" and hess is None):
        faults.add("hess")
    if objective == "not callable" and not native:
        faults.add("fun")
    if faults:
        return adv.expect_error(outcome, *faults)
    faults = option_faults(method, options)
    faults = faults or option_faults(method, options, np.dtype(xs.compute_dtype))
    if faults:
        return adv.expect_error(outcome, *faults)
    if not native and objective in OBJECTIVE_ERROR:
        if objective == "single" and jac == "callable":
            pass  # fun returns f alone, as jac=callable wants
        elif objective in ("grad shape", "complex", "object") and jac == "callable":
            pass  # the gradient comes from jac, which is fine
        else:
            return adv.expect_error(outcome, *OBJECTIVE_ERROR[objective])
    if not native and objective == "raises":
        raise AssertionError("the objective's exception was swallowed")
    res = adv.expect_ok(outcome)
    dtype = np.float32 if xs.compute_dtype == "float32" else np.float64
    assert res.x.shape == (x0.size,) and res.x.dtype == dtype and res.status in STATUSES
    assert res.success == (res.status == 0)
    assert_converged_implies_finite(res.success, x=res.x, fun=res.fun, jac=res.jac)
    assert np.isfinite(res.x).all(), "x is not finite"
    if callback == "stop" and "at x0" not in res.message and options["max_iter"] >= 1:
        assert res.status in (99, 0, 1, 2)
    del stops
    if native:
        f0 = reference_value(fun, np.asarray(x0, dtype).reshape(-1))
        f = reference_value(fun, res.x)
        if np.isfinite(f0) and "at x0" not in res.message:
            assert np.isfinite(res.fun)
            # the value reported is the value at x, and no worse than at x0
            assert abs(res.fun - f) <= 1e-4 * max(1.0, abs(f)) if dtype == np.float32 \
                else abs(res.fun - f) <= 1e-10 * max(1.0, abs(f))
            assert f <= f0 * (1 + 1e-5) + 1e-30
    elif objective in ("good", "float32", "list") or (jac == "callable"
                                                     and objective not in ("nan",)):
        if "at x0" not in res.message:
            assert np.isfinite(res.fun)
            assert res.fun <= python_objective("good")(np.asarray(x0, np.float64)
                                                      .reshape(-1))[0] * (1 + 1e-5) + 1e-30


@given(native=st.booleans(), problem=native_problems(), objective=OBJECTIVES,
       batch=adv.dims(0, 4), n=adv.dims(0, 4), data=st.data(),
       method=METHODS, options=OPTIONS,
       num_threads=adv.choice([None, None, 1, 2], [0, -1, 2.5, 10**6, 10**30, "2"]))
def test_minimize_batch(native, problem, objective, batch, n, data, method, options,
                        num_threads):
    if native:
        name, size = problem
        if problem_fault(name, size):
            return
        fun = problems.ALL[name](size)
        n = fun.n if data.draw(st.booleans(), label="right size") else n
    else:
        fun = 3.0 if objective == "not callable" else python_objective(objective, batch=True)
    shape = data.draw(adv.choice([(batch, n)], [(n,), (1, 1, n)]), label="x0 shape")
    xs = data.draw(adv.specs(shape), label="x0")
    x0 = xs.build()
    try:
        outcome = adv.call(minimize_batch, fun, x0, method=method, num_threads=num_threads,
                           **options, arguments=("fun", "x0", "method", "num_threads") +
                           tuple(options))
    except ObjectiveFailed:
        assert objective == "raises" and not native
        return
    faults = set()
    if method not in ("lbfgs", "bfgs", "newton", "gd"):
        faults.add("method")
    if not native and objective == "not callable":
        faults.add("fun")
    if num_threads is not None and not (adv.is_number(num_threads) and float(num_threads)
                                        .is_integer() and 1 <= num_threads <= 1024):
        faults.add("num_threads")
    if faults:
        return adv.expect_error(outcome, *faults)
    faults = option_faults(method, options)
    if faults:
        return adv.expect_error(outcome, *faults)
    unreadable = xs.rejected_dtype or adv.has_nonfinite(x0) or x0.ndim != 2 or x0.shape[1] == 0
    if unreadable:
        return adv.expect_error(outcome, "x0")
    # x0 of the wrong size and options out of float32's range: either may be reported
    faults = option_faults(method, options, np.dtype(xs.compute_dtype))
    if native and x0.shape[1] != fun.n:
        faults.add("x0")
    if faults:
        return adv.expect_error(outcome, *faults)
    if not native and method == "newton":
        return adv.expect_error(outcome, "method")
    if not native and x0.shape[0] and objective in OBJECTIVE_ERROR:
        return adv.expect_error(outcome, *OBJECTIVE_ERROR[objective])
    if not native and x0.shape[0] and objective == "raises":
        raise AssertionError("the objective's exception was swallowed")
    res = adv.expect_ok(outcome)
    dtype = np.float32 if xs.compute_dtype == "float32" else np.float64
    assert res.x.shape == x0.shape and res.x.dtype == dtype and len(res) == x0.shape[0]
    assert set(res.status.tolist()) <= STATUSES
    assert_converged_implies_finite(res.success, x=res.x, fun=res.fun, jac=res.jac)
    assert np.isfinite(res.x).all()
    if native:
        for k in range(x0.shape[0]):
            f0 = reference_value(fun, np.asarray(x0[k], dtype))
            if np.isfinite(f0) and "at x0" not in res.message[k]:
                f = reference_value(fun, res.x[k])
                assert f <= f0 * (1 + 1e-5) + 1e-30
                assert abs(res.fun[k] - f) <= ACCUMULATED[dtype] * \
                    max(1.0, abs(f))


@given(problem=native_problems(), cond=adv.scalars(st.sampled_from([1e4, 1.0, 10.0])),
       data=st.data(), extra_dims=st.lists(adv.dims(0, 2), max_size=2).map(tuple))
def test_problem_objects(problem, cond, data, extra_dims):
    """The native problems' value, gradient and Hessian against the NumPy formulas."""
    name, size = problem
    args = (size, cond) if name == "quadratic" else (size,)
    outcome = adv.call(problems.ALL[name], *args, arguments=("n", "cond"))
    faults = {"n"} if problem_fault(name, size) else set()
    if name == "quadratic" and not (adv.finite_number(cond) and cond >= 1):
        faults.add("cond")
    if faults:
        return adv.expect_error(outcome, *faults)
    p = adv.expect_ok(outcome)
    assert repr(problems.get(name, size)) == repr(problems.ALL[name](size))
    n = p.n
    np.testing.assert_allclose(p.x0, ref.standard_start(name, n))
    xs = data.draw(adv.specs(extra_dims + (data.draw(adv.choice([n], [n + 1])),)), label="x")
    x = xs.build()
    outcome = adv.call(p, x, arguments=("x",))
    if xs.rejected_dtype or x.shape[-1] != n:
        return adv.expect_error(outcome, "x")
    f, g = adv.expect_ok(outcome)
    dtype = np.float32 if xs.compute_dtype == "float32" else np.float64
    x64 = np.asarray(x, dtype).astype(np.float64)
    assert np.shape(f) == x.shape[:-1] and g.shape == x.shape and g.dtype == dtype
    fun = (lambda z: ref.quadratic(z, p.parameter)) if name == "quadratic" else ref.PROBLEMS[name]
    rtol = ACCUMULATED[dtype]
    for index in np.ndindex(x.shape[:-1]):
        with np.errstate(all="ignore"):
            f_ref, g_ref, h_ref = fun(x64[index])
        if not (np.isfinite(f_ref) and np.abs(x64[index]).max() < 1e30
                and abs(f_ref) < np.finfo(dtype).max / 100):  # else f overflows in dtype
            continue
        assert abs(np.asarray(f)[index] - f_ref) <= rtol * (abs(f_ref) + 1) * 10
        assert np.abs(g[index] - g_ref).max() <= rtol * (np.abs(g_ref).max() + 1) * 10
        if x.ndim == 1:
            h = p.hess(x)
            assert np.abs(h - h_ref).max() <= rtol * (np.abs(h_ref).max() + 1) * 10
    if x.ndim > 1:
        adv.expect_error(adv.call(p.hess, x, arguments=("x",)), "x")


@pytest.mark.parametrize("bad", [("rosenbrock", 0), ("bogus", 3), ("extended_powell", 5),
                                 ("quadratic", 3, float("nan")), ("quadratic", 3, -1.0),
                                 ("rosenbrock", 2.5), ("rosenbrock", 10**30)])
def test_problem_constructor_checks_its_fields(bad):
    """Problem is public: built directly it is checked like the named constructors."""
    with pytest.raises(ValueError, match=r"^(name|n|parameter):"):
        problems.Problem(*bad)


def test_absurd_sizes_raise_memory_error():
    with pytest.raises(MemoryError):
        minimize_batch(problems.rosenbrock(2), np.broadcast_to(np.ones(2), (2**40, 2)))
    with pytest.raises(MemoryError):
        problems.rosenbrock(2**40).x0


def test_huge_batch_of_tiny_problems():
    rng = np.random.default_rng(3)
    res = minimize_batch(problems.quadratic(1), rng.standard_normal((100_000, 1)))
    assert res.success.all() and np.abs(res.x).max() < 1e-5
    x0 = rng.standard_normal((20_000, 2))
    res = minimize_batch(problems.rosenbrock(2), x0)
    assert res.success.mean() > 0.99
    for k in range(0, 20_000, 1000):  # each problem as minimize solves it alone
        np.testing.assert_array_equal(res.x[k], minimize(problems.rosenbrock(2), x0[k]).x)
