"""Reliability rules of issue 13, each over the whole class it names:

* what an objective, a callback or a result hands to Python owns its memory or is a copy:
  keeping it past the call is safe, writing into it changes nothing in the solver;
* an exception inside any OpenMP parallel region (std::bad_alloc for scratch memory) reaches
  Python as MemoryError from every threaded kernel, instead of aborting the process;
* converged=True implies finite outputs; a result beyond the float range is a ValueError;
* every float argument, flag and array argument is checked: numbers beyond float range,
  booleans where numbers belong (and the reverse), masked arrays, all give a ValueError
  naming the argument; np.True_ is a boolean, and a callback returning it stops a run;
* empty batches need no memory, bmm takes any number of batch dimensions.
Fork safety has its own file (tests/reliability/test_fork.py).
"""

import ctypes
import importlib
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import EXACT

from optkern import givens, linalg, ot, tv
from optkern.optimize import minimize, minimize_batch, problems

HUGE = 10**400  # a real number beyond every float


# --- 1. objectives get copies ------------------------------------------------------------


def test_minimize_objective_may_keep_x_after_the_run():
    kept = []

    def fun(x):
        kept.append(x)
        return 0.5 * float(x @ x), x.copy()

    n = 2**16
    minimize(fun, np.ones(n), max_iter=3)
    assert kept[0].shape == (n,) and np.all(kept[0] == 1.0)  # the start, still readable
    assert all(x.flags.owndata for x in kept)


@pytest.mark.parametrize("method", ["lbfgs", "bfgs", "newton", "gd"])
def test_minimize_objective_writing_into_x_changes_nothing(method):
    p = problems.extended_rosenbrock(6)
    hess = p.hess if method == "newton" else None

    def clean(x):
        return p(x)

    def scribbles(x):
        value = p(x)
        x[:] = np.nan
        return value

    def hess_scribbles(x):
        h = p.hess(x)
        x[:] = 1e300
        return h

    ref = minimize(clean, p.x0, method=method, hess=hess, max_iter=50)
    res = minimize(scribbles, p.x0, method=method,
                   hess=hess_scribbles if hess else None, max_iter=50)
    np.testing.assert_array_equal(res.x, ref.x)
    assert res.nfev == ref.nfev and res.status == ref.status


@pytest.mark.parametrize("method", ["lbfgs", "bfgs", "gd"])
def test_minimize_batch_objective_may_keep_and_write_x(method):
    scale = np.linspace(1, 3, 5)[:, None]

    def clean(X):
        return 0.5 * (scale * X * X).sum(1), scale * X

    kept = []

    def scribbles(X):
        kept.append(X)
        out = clean(X)
        out = out[0].copy(), out[1].copy()
        X[:] = np.nan
        return out

    x0 = np.random.default_rng(0).standard_normal((5, 4))
    ref = minimize_batch(clean, x0, method=method)
    res = minimize_batch(scribbles, x0, method=method)
    np.testing.assert_array_equal(res.x, ref.x)
    assert len({id(X) for X in kept}) == len(kept) and np.isnan(kept[0]).all()


# --- 2. exceptions inside parallel regions ------------------------------------------------

ALLOCATION_PROBE_HEAD = """
import resource, numpy as np, optkern
from optkern import givens, linalg, ot, tv
from optkern.optimize import minimize_batch, problems
optkern.set_num_threads(2)
def address_space():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()
"""
ALLOCATION_PROBE_TAIL = """
warm()  # the thread team exists and first-call allocations are made
resource.setrlimit(resource.RLIMIT_AS, (address_space() + MARGIN, resource.RLIM_INFINITY))
try:
    big()
except MemoryError as exc:
    print("MemoryError", exc)
else:
    print("no error")
"""
# Each case: inputs made before the address space is limited, then a call whose scratch
# memory (allocated by each thread inside the parallel region) exceeds MARGIN while its
# outputs fit. Before the fix the worker's std::bad_alloc called std::terminate (SIGABRT).
ALLOCATION_CASES = {
    "minimize_batch bfgs": """
        x0 = np.zeros((2, 2**13)); p = problems.rosenbrock(2**13)  # 512 MiB Hessians
        def warm(): minimize_batch(problems.rosenbrock(4), np.zeros((4, 4)), method="bfgs")
        def big(): minimize_batch(p, x0, method="bfgs", max_iter=2)
        MARGIN = 64 << 20""",
    "minimize_batch lbfgs": """
        x0 = np.zeros((4, 2**16)); p = problems.rosenbrock(2**16)  # m = 2000 histories
        def warm(): minimize_batch(problems.rosenbrock(4), np.zeros((4, 4)), method="lbfgs")
        def big(): minimize_batch(p, x0, method="lbfgs", m=2000, max_iter=2)
        MARGIN = 64 << 20""",
    "tv.denoise": """
        n = 2**22; x = np.tile(np.sqrt(np.arange(n, dtype=np.float32)), (2, 1))
        lam = 0.3 * tv.lambda_max(x[0].astype(np.float64))  # a taut string of O(n) segments
        def warm(): tv.denoise(x[:, :1000], 1e-3)
        def big(): tv.denoise(x, lam)
        MARGIN = 8 * n + (4 << 20)""",
    "tv.denoise irls": """
        n = 2**22; x = np.random.default_rng(0).random((2, n)).astype(np.float32)
        def warm(): tv.denoise(x[:, :1000], 0.1, method="irls")
        def big(): tv.denoise(x, 0.1, method="irls", max_iter=2)
        MARGIN = 12 * n""",
    "tridiagonal_solve": """
        n = 2**22; d = np.full((2, n), 4.0, np.float32); o = np.ones((2, n), np.float32)
        def warm(): linalg.tridiagonal_solve(o[:, :100], d[:, :100], o[:, :100], o[:, :100])
        def big(): linalg.tridiagonal_solve(o, d, o, o)
        MARGIN = 16 * n""",
    "bmm": """
        a = np.ones((2, 64, 4096)); b = np.ones((2, 4096, 4096)); out = np.empty((2, 64, 4096))
        def warm(): linalg.bmm(a[:, :8, :64], b[:, :64, :64])
        def big(): linalg.bmm(a, b, out=out)
        MARGIN = 256 << 10""",
    "ot.sinkhorn": """
        n = 2**21; M = np.random.default_rng(0).random((2, 1, n)).astype(np.float32)
        def warm(): ot.sinkhorn(M[:, :, :100], reg=1.0)
        def big(): ot.sinkhorn(M, reg=1.0, max_iter=3)
        MARGIN = 48 * n""",
    "ot.sinkhorn_unbalanced team": """
        n = 2048; M = np.random.default_rng(0).random((n, n)).astype(np.float32)
        a = np.full(n, 1.0 / n, np.float32)  # one problem, 2 threads: a team; K (double,
        def warm(): ot.sinkhorn_unbalanced(M[:8, :8], a[:8], a[:8], reg=1.0, reg_m=1.0)
        def big(): ot.sinkhorn_unbalanced(M, a, a, reg=1.0, reg_m=1.0, method="plain",
                                          max_iter=3)
        MARGIN = 36 << 20  # 32 MB) is allocated inside the team, after its first barrier""",
    "ot.sinkhorn_vjp": """
        n = 2**11; P = np.full((2, n, n), 1.0 / n**2); G = np.ones((2, n, n))
        def warm(): ot.sinkhorn_vjp(P[:, :10, :10] * n**2 / 100, G[:, :10, :10], 1.0)
        def big(): ot.sinkhorn_vjp(P, G, 1.0)
        MARGIN = 80 << 20""",
    "givens.factorize": """
        d = 512; U = np.linalg.qr(np.random.default_rng(0).standard_normal((d, d)))[0]
        V = np.linalg.qr(np.random.default_rng(1).standard_normal((64, 64)))[0]
        def warm(): givens.factorize(V, 10)
        def big(): givens.factorize(U, 1000)
        MARGIN = 1 << 20""",
    "givens.factorize beam": """
        d = 512; U = np.linalg.qr(np.random.default_rng(0).standard_normal((d, d)))[0]
        V = np.linalg.qr(np.random.default_rng(1).standard_normal((64, 64)))[0]
        def warm(): givens.factorize(V, 10, method="beam", beam_width=4)
        def big(): givens.factorize(U, 50, method="beam", beam_width=64)
        MARGIN = 8 << 20""",
    "givens.GivensSequence.apply": """
        d = 4096; rng = np.random.default_rng(0); i = rng.integers(0, d - 1, 4 * d)
        seq = givens.GivensSequence(i, i + 1, rng.uniform(0, 6, 4 * d), d,
                                    rng.permutation(d), rng.choice([-1, 1], d))
        X = np.ones((d, 4096))
        def warm(): seq.apply(X[:, :8])
        def big(): seq.apply(X)
        MARGIN = 4 << 20""",
}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc")
@pytest.mark.parametrize("name", sorted(ALLOCATION_CASES))
def test_allocation_failure_in_threads_is_a_memory_error(name):
    code = (ALLOCATION_PROBE_HEAD + textwrap.dedent(ALLOCATION_CASES[name])
            + ALLOCATION_PROBE_TAIL)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f"{name}: the process died ({done.returncode}): " \
                                 f"{done.stderr[-500:]}"
    assert done.stdout.startswith("MemoryError"), done.stdout + done.stderr[-500:]


# --- 5, 6. converged implies finite; unrepresentable results are errors -------------------


def assert_converged_finite(res):
    converged = np.asarray(res.converged)
    for name in ("plan", "f", "g", "cost", "value"):
        x = np.asarray(getattr(res, name))
        finite = np.isfinite(x.reshape(converged.shape + (-1,))).all(-1)
        assert np.all(finite[converged]), f"{name}: not finite although converged"


@pytest.mark.parametrize("method", ["auto", "plain", "log"])
def test_sinkhorn_where_max_minus_min_of_M_overflows(method):
    M = np.array([[1e308, -1e308]])  # max|M| / reg = 1e8: inside the documented range
    res = ot.sinkhorn(M, reg=1e300, method=method)
    assert_converged_finite(res)
    np.testing.assert_allclose(res.plan, [[0.5, 0.5]], rtol=1e-6)
    if method != "log":
        assert res.converged
        # P = exp((f + g - M) / reg): the potentials carry M's scale
        np.testing.assert_allclose(np.exp((res.f[:, None] + res.g - M) / 1e300), res.plan,
                                   rtol=1e-6)
    assert np.isfinite(ot.sinkhorn_cost(M, reg=1e300, method=method))


def test_sinkhorn_whose_potentials_are_representable_but_their_sum_is_not():
    res = ot.sinkhorn(np.zeros((4, 5)), reg=1e307)  # f + g near -3e307
    assert res.converged
    assert_converged_finite(res)
    np.testing.assert_allclose(res.plan, np.full((4, 5), 0.05), rtol=1e-12)


@pytest.mark.parametrize(("M", "reg"), [(np.zeros((4, 5)), 1e308),
                                        (np.zeros((4, 5), np.float32), 1e300)])
def test_sinkhorn_result_beyond_the_range_is_a_value_error(M, reg):
    with pytest.raises(ValueError, match=r"^M, reg: .*representable"):
        ot.sinkhorn(M, reg=reg)


def test_sinkhorn_near_overflow_with_a_callback_sees_the_true_scale():
    seen = []
    res = ot.sinkhorn(np.array([[1e308, -1e308], [0.0, 1e307]]), reg=1e300,
                      callback=lambda r: seen.append(r.f.copy()))
    assert seen and np.all(np.abs(seen[-1]) > 1e290)
    assert_converged_finite(res)


# --- 7. callbacks and results can be written without changing anything --------------------


def test_sinkhorn_callback_writing_its_result_changes_nothing():
    M = np.random.default_rng(0).random((3, 6, 7))

    def scribble(r):
        for name in ("plan", "f", "g", "n_iter", "marginal_error", "converged"):
            x = getattr(r, name)
            x[...] = 0 if x.dtype == bool or x.dtype.kind == "i" else np.nan

    ref = ot.sinkhorn(M, reg=0.05, callback=lambda r: None)
    res = ot.sinkhorn(M, reg=0.05, callback=scribble)
    for name in ("plan", "f", "g", "n_iter", "marginal_error", "converged", "value"):
        np.testing.assert_array_equal(getattr(res, name), getattr(ref, name))


def test_minimize_batch_callback_writing_x_changes_nothing():
    X0 = np.random.default_rng(1).standard_normal((40, 6))
    p = problems.extended_rosenbrock(6)
    ref = minimize_batch(p, X0, callback=lambda r: None)

    def scribble(r):
        r.x[...] = np.nan
        r.fun[...] = np.nan

    res = minimize_batch(p, X0, callback=scribble)
    np.testing.assert_array_equal(res.x, ref.x)
    np.testing.assert_array_equal(res.fun, ref.fun)


@pytest.mark.parametrize("wants_result", [True, False])
def test_minimize_callback_writing_x_changes_nothing(wants_result):
    p = problems.extended_rosenbrock(4)
    ref = minimize(p, p.x0, callback=lambda x: None)

    if wants_result:
        def scribble(intermediate_result):
            intermediate_result.x[:] = np.nan
            intermediate_result.jac[:] = np.nan
    else:
        def scribble(x):
            x[:] = np.nan

    res = minimize(p, p.x0, callback=scribble)
    np.testing.assert_array_equal(res.x, ref.x)


def test_torch_return_result_plan_is_not_the_returned_plan():
    torch = pytest.importorskip("torch")
    import optkern.torch as okt

    M = torch.rand(4, 5, dtype=torch.float64, requires_grad=True)
    P, res = okt.sinkhorn(M, reg=0.1, return_result=True)
    kept = P.detach().clone()
    res.plan[...] = 0
    torch.testing.assert_close(P.detach(), kept)
    (P * torch.arange(20.0, dtype=torch.float64).reshape(4, 5)).sum().backward()
    ref = M.detach().clone().requires_grad_()
    (okt.sinkhorn(ref, reg=0.1) * torch.arange(20.0, dtype=torch.float64).reshape(4, 5)) \
        .sum().backward()
    torch.testing.assert_close(M.grad, ref.grad)


# --- "Also": callbacks returning np.True_ stop a run; flags are strict ------------------


def test_callbacks_returning_numpy_true_stop_the_run():
    M = np.random.default_rng(0).random((20, 20))
    full = ot.sinkhorn(M, reg=1e-3, max_iter=2000, tol=0.0)
    stopped = ot.sinkhorn(M, reg=1e-3, max_iter=2000, tol=0.0, callback=lambda r: np.True_)
    assert stopped.n_iter < full.n_iter

    p = problems.extended_rosenbrock(4)
    assert minimize(p, p.x0, callback=lambda x: np.True_).status == 99
    assert minimize(p, p.x0, callback=lambda intermediate_result: np.True_).status == 99
    res = minimize_batch(p, np.tile(p.x0, (200, 1)), callback=lambda r: np.True_)
    assert (res.status == 99).any()

    U = np.linalg.qr(np.random.default_rng(2).standard_normal((8, 8)))[0]
    assert len(givens.factorize(U, 10, callback=lambda step: np.True_)) == 1


def test_callbacks_returning_truthy_non_booleans_do_not_stop():
    p = problems.extended_rosenbrock(4)
    assert minimize(p, p.x0, callback=lambda x: 1).status != 99
    assert minimize(p, p.x0, callback=lambda x: "yes").status != 99


def flag_calls():
    x = np.array([0.0, 1.0, 3.0])
    M = np.random.default_rng(0).random((3, 4))
    U = np.linalg.qr(np.random.default_rng(2).standard_normal((6, 6)))[0]
    seq = givens.factorize(U, 3)
    calls = {
        "return_info": lambda v: tv.denoise(x, 0.5, return_info=v),
        "return_grad": lambda v: ot.sinkhorn_cost(M, reg=0.5, return_grad=v),
        "progress": lambda v: ot.sinkhorn(M, reg=0.5, progress=v),
        "transpose": lambda v: seq.apply(np.eye(6), transpose=v),
        "check": lambda v: givens.factorize(U, 2, check=v),
    }
    try:
        import torch

        import optkern.torch as okt

        calls["return_result"] = lambda v: okt.sinkhorn(torch.from_numpy(M), reg=0.5,
                                                        return_result=v)
    except ImportError:
        pass
    return calls


@pytest.mark.parametrize("name", sorted(flag_calls()))
def test_flags_take_booleans_only(name, capsys):
    call = flag_calls()[name]
    for bad in ("yes", 1, 0, None, 1.0, np.array([True])):
        with pytest.raises(ValueError, match=rf"^{name}: expected (True or False|a bool)"):
            call(bad)
    for good in (True, False, np.True_, np.False_):
        call(good)


@pytest.mark.parametrize("lam", [True, False, np.True_, np.array([True, False])])
def test_lam_rejects_booleans(lam):
    with pytest.raises(ValueError, match="^lam: "):
        tv.denoise(np.ones((2, 5)), lam)


def test_minimize_takes_numpy_true_for_jac():
    p = problems.quadratic(4, 10.0)
    res = minimize(lambda x: p(x), p.x0, jac=np.True_)
    assert res.success


# --- 11. numbers beyond float range ---------------------------------------------------------


def float_argument_calls():
    x = np.array([0.0, 1.0, 3.0])
    M = np.random.default_rng(0).random((3, 4))
    P = ot.sinkhorn(M, reg=0.5).plan
    p = problems.extended_rosenbrock(4)
    fun = problems.extended_rosenbrock(4)
    y = tv.denoise(x, 0.5)
    return [
        ("reg", lambda v: ot.sinkhorn(M, reg=v)),
        ("reg", lambda v: ot.sinkhorn_cost(M, reg=v)),
        ("reg", lambda v: ot.sinkhorn_vjp(P, np.ones_like(P), v)),
        ("tol", lambda v: ot.sinkhorn(M, reg=0.5, tol=v)),
        ("lam", lambda v: tv.denoise(x, v)),
        ("lam", lambda v: tv.denoise_vjp(y, np.ones(3), v)),
        ("tol", lambda v: tv.denoise(x, 0.5, method="irls", tol=v)),
        ("rtol", lambda v: tv.denoise_vjp(y, np.ones(3), 0.5, rtol=v)),
        ("gtol", lambda v: minimize(fun, p.x0, gtol=v)),
        ("ftol", lambda v: minimize(fun, p.x0, ftol=v)),
        ("c1", lambda v: minimize(fun, p.x0, c1=v)),
        ("c2", lambda v: minimize(fun, p.x0, c2=v)),
        ("alpha0", lambda v: minimize(fun, p.x0, alpha0=v)),
        ("gtol", lambda v: minimize_batch(fun, np.tile(p.x0, (2, 1)), gtol=v)),
        ("cond", lambda v: problems.quadratic(4, v)),
        ("max_iter", lambda v: minimize(fun, p.x0, max_iter=v)),
        ("max_iter", lambda v: ot.sinkhorn(M, reg=0.5, max_iter=v)),
        ("n_factors", lambda v: givens.factorize(np.eye(4), v)),
    ]


@pytest.mark.parametrize("index", range(len(float_argument_calls())))
@pytest.mark.parametrize("value", [HUGE, -HUGE])
def test_numbers_beyond_float_range_name_the_argument(index, value):
    name, call = float_argument_calls()[index]
    with pytest.raises(ValueError, match=rf"^{name}: "):
        call(value)


@pytest.mark.parametrize("index", range(len(float_argument_calls())))
def test_booleans_are_not_numbers(index):
    name, call = float_argument_calls()[index]
    with pytest.raises(ValueError, match=rf"^{name}: "):
        call(True)


# --- "Also": masked arrays are refused everywhere -------------------------------------------


def masked(x):
    return np.ma.masked_array(x, mask=np.zeros(np.shape(x), bool))


def array_argument_calls():
    rng = np.random.default_rng(0)
    x = rng.random((2, 5))
    M = rng.random((3, 4))
    P = ot.sinkhorn(M, reg=0.5).plan
    U = np.linalg.qr(rng.standard_normal((6, 6)))[0]
    seq = givens.factorize(U, 3)
    p = problems.extended_rosenbrock(4)
    sym = U @ np.diag(np.arange(6.0)) @ U.T
    return [
        ("a", lambda v: linalg.bmm(v, M.T), M),
        ("b", lambda v: linalg.bmm(M, v), M.T),
        ("diag", lambda v: linalg.tridiagonal_solve(x, v, x, x), x + 4),
        ("rhs", lambda v: linalg.tridiagonal_solve(x, x + 4, x, v), x),
        ("x", lambda v: tv.denoise(v, 0.5), x),
        ("lam", lambda v: tv.denoise(x, v), np.array([0.5, 0.5])),
        ("y", lambda v: tv.denoise_vjp(v, x, 0.5), x),
        ("grad_y", lambda v: tv.denoise_vjp(x, v, 0.5), x),
        ("x", lambda v: tv.lambda_max(v), x),
        ("M", lambda v: ot.sinkhorn(v, reg=0.5), M),
        ("a", lambda v: ot.sinkhorn(M, v, reg=0.5), np.full(3, 1 / 3)),
        ("b", lambda v: ot.sinkhorn(M, None, v, reg=0.5), np.full(4, 1 / 4)),
        ("M", lambda v: ot.sinkhorn_cost(v, reg=0.5), M),
        ("P", lambda v: ot.sinkhorn_vjp(v, M, 0.5), P),
        ("grad_P", lambda v: ot.sinkhorn_vjp(P, v, 0.5), M),
        ("x0", lambda v: minimize(p, v), p.x0),
        ("x0", lambda v: minimize_batch(p, v), np.tile(p.x0, (2, 1))),
        ("x", lambda v: p(v), p.x0),
        ("U", lambda v: givens.factorize(v, 2), U),
        ("L", lambda v: givens.jacobi(v, 2), sym),
        ("X", lambda v: seq.apply(v), np.eye(6)),
        ("U", lambda v: givens.symmetrized_frobenius(v, U), U),
    ]


@pytest.mark.parametrize("index", range(len(array_argument_calls())))
def test_masked_arrays_are_refused(index):
    name, call, value = array_argument_calls()[index]
    call(value)  # the plain array is fine
    with pytest.raises(ValueError, match=rf"^{name}: .*masked"):
        call(masked(value))


@pytest.mark.parametrize("device", ["cuda", "auto"])
def test_masked_arrays_are_refused_before_choosing_a_device(device):
    with pytest.raises(ValueError, match=r"^x: .*masked"):
        tv.denoise(masked(np.ones((2, 5))), 0.5, device=device)
    with pytest.raises(ValueError, match=r"^M: .*masked"):
        ot.sinkhorn(masked(np.ones((2, 5))), reg=0.5, device=device)


def test_masked_arrays_are_refused_by_the_adapters():
    M = masked(np.random.default_rng(0).random((3, 4)))
    x = masked(np.ones((2, 5)))
    for name in ("optkern.torch", "optkern.jax"):
        try:
            adapter = importlib.import_module(name)
        except ImportError:
            continue
        with pytest.raises(ValueError, match=r"^M: .*masked"):
            adapter.sinkhorn(M, reg=0.5)
        with pytest.raises(ValueError, match=r"^x: .*masked"):
            adapter.tv_denoise(x, 0.5)


# --- 12. bmm with many batch dimensions -----------------------------------------------------


@pytest.mark.parametrize(("a_shape", "b_shape"), [
    ((1,) * 9 + (2, 3), (3, 4)),
    ((3,) * 10 + (2, 3), (3, 2)),
    ((2, 1) * 5 + (2, 3), (1, 2) * 5 + (3, 4)),  # alternating broadcasts: 10 dims after merging
    ((1, 2) * 7 + (3, 2), (2, 1) * 7 + (2, 3)),
])
def test_bmm_takes_any_number_of_batch_dimensions(a_shape, b_shape, dtype):
    rng = np.random.default_rng(0)
    a, b = rng.random(a_shape).astype(dtype), rng.random(b_shape).astype(dtype)
    expected = a @ b
    got = linalg.bmm(a, b)
    assert got.shape == expected.shape and got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=EXACT[dtype])
    out = np.empty_like(expected)
    assert linalg.bmm(a[..., ::-1, :], b, out=out) is out
    np.testing.assert_allclose(out, a[..., ::-1, :] @ b, rtol=1e-5)


def host_view(ptr, shape, element_strides, dtype):
    """A NumPy view of host memory at ptr (shape and strides in elements, of any sign)."""
    strides = tuple(s * dtype.itemsize for s in element_strides)
    low = sum((e - 1) * s for e, s in zip(shape, strides) if e > 0 and s < 0)
    high = sum((e - 1) * s for e, s in zip(shape, strides) if e > 0 and s > 0)
    buffer = (ctypes.c_char * (high - low + dtype.itemsize)).from_address(ptr + low)
    return np.ndarray(shape, dtype, buffer=buffer, offset=-low, strides=strides)


class HostBmmLauncher:
    """Stands in for optkern._cuda.linalg.bmm on host memory: reads each descriptor (pointer, rows,
    cols, row and column strides, batch strides, in elements) as a NumPy view and multiplies,
    as the kernel does; so the launcher's splitting of many batch dimensions is checked
    without a GPU."""

    def __init__(self):
        self.launches = 0

    def bmm(self, char, extents, desc_a, desc_b, desc_c, stream):
        dtype = np.dtype(char)
        assert len(extents) <= 8, "more batch dimensions than the kernel takes"
        self.launches += 1
        a, b, c = (host_view(ptr, tuple(extents) + (rows, cols), tuple(bs) + (rs, cs), dtype)
                   for ptr, rows, cols, rs, cs, bs in (desc_a, desc_b, desc_c))
        c[...] = a @ b


@pytest.mark.parametrize(("a_shape", "b_shape"), [
    ((2, 1) * 5 + (2, 3), (1, 2) * 5 + (3, 4)),
    ((1, 3) * 6 + (2, 2), (2, 1) * 6 + (2, 3)),
    ((2, 3), (4, 3, 2)),
])
def test_cuda_launcher_splits_batches_of_many_dimensions(monkeypatch, a_shape, b_shape):
    from optkern import _backend
    from optkern.linalg import _cuda as linalg_cuda

    launcher = HostBmmLauncher()
    monkeypatch.setattr(_backend, "_cuda", SimpleNamespace(linalg=launcher))
    rng = np.random.default_rng(0)
    a = rng.random(a_shape)[..., ::-1, :]  # a reversed view: negative strides
    b = rng.random(b_shape)
    shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    c = np.full(shape, np.nan)
    ops = [(x.ctypes.data, x.shape, tuple(s // x.itemsize for s in x.strides))
           for x in (a, b, c)]
    linalg_cuda._bmm_launch(np.dtype(np.float64), shape, ops, 0)
    np.testing.assert_allclose(c, a @ b, rtol=1e-13)
    assert launcher.launches >= 1


# --- 13. init names itself -------------------------------------------------------------------


@pytest.mark.parametrize("init", [(np.zeros((3, 4)), None), (None, np.zeros((3, 5)))])
def test_sinkhorn_init_of_the_wrong_batch_shape_names_init(init):
    with pytest.raises(ValueError, match=r"^init: .*batch shape"):
        ot.sinkhorn(np.ones((2, 4, 5)), reg=0.1, init=init)


# --- 14. torch adapters: bfloat16 and sparse --------------------------------------------------


def test_torch_bfloat16_is_computed_in_float32_and_returned_in_bfloat16():
    torch = pytest.importorskip("torch")
    import optkern.torch as okt

    M = torch.rand(3, 4, dtype=torch.bfloat16, requires_grad=True)
    P = okt.sinkhorn(M, reg=0.5)
    assert P.dtype == torch.bfloat16
    torch.testing.assert_close(P, okt.sinkhorn(M.detach().float(), reg=0.5)
                               .to(torch.bfloat16))
    P.sum().backward()
    assert M.grad.dtype == torch.bfloat16 and torch.isfinite(M.grad).all()
    assert okt.sinkhorn_cost(M, reg=0.5).dtype == torch.bfloat16
    x = torch.rand(2, 7, dtype=torch.bfloat16, requires_grad=True)
    y = okt.tv_denoise(x, 0.1)
    assert y.dtype == torch.bfloat16
    y.sum().backward()
    assert x.grad.dtype == torch.bfloat16


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
def test_torch_sparse_tensors_name_the_argument():
    torch = pytest.importorskip("torch")
    import optkern.torch as okt

    M = torch.rand(3, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"^M: expected a dense"):
        okt.sinkhorn(M.to_sparse(), reg=0.5)
    with pytest.raises(ValueError, match=r"^a: expected a dense"):
        okt.sinkhorn(M, torch.full((3,), 1 / 3, dtype=torch.float64).to_sparse(), reg=0.5)
    with pytest.raises(ValueError, match=r"^M: expected a dense"):
        okt.sinkhorn_cost(M.to_sparse_csr(), reg=0.5)
    with pytest.raises(ValueError, match=r"^x: expected a dense"):
        okt.tv_denoise(M.to_sparse(), 0.1)


# --- 8. torch sinkhorn with zero weights ------------------------------------------------------


def test_torch_sinkhorn_gradient_at_zero_weights_is_the_one_sided_derivative():
    torch = pytest.importorskip("torch")
    import optkern.torch as okt

    gen = torch.Generator().manual_seed(0)
    M = torch.rand(4, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    W = torch.rand(4, 3, dtype=torch.float64, generator=gen)

    def loss(M, a, b=None):
        return (okt.sinkhorn(M, a, b, reg=0.3, tol=1e-14) * W).sum()

    a = torch.tensor([0.5, 0.0, 0.3, 0.2], dtype=torch.float64, requires_grad=True)
    loss(M, a).backward()
    assert torch.isfinite(a.grad).all() and torch.isfinite(M.grad).all()
    h = 1e-7  # forward differences: the derivative from the side where a_1 >= 0
    for i in range(4):
        step = torch.zeros(4, dtype=torch.float64)
        step[i] = h
        with torch.no_grad():
            fd = (loss(M, a + step) - loss(M, a)) / h
        assert abs(float(fd) - float(a.grad[i])) < 1e-5, i
    # zero weights in b (its columns), with a fixed
    b = torch.tensor([0.6, 0.0, 0.4], dtype=torch.float64, requires_grad=True)
    a_fixed = torch.full((4,), 0.25, dtype=torch.float64)
    loss(M, a_fixed, b).backward()
    assert torch.isfinite(b.grad).all()
    for j in range(3):
        step = torch.zeros(3, dtype=torch.float64)
        step[j] = 1e-8
        with torch.no_grad():
            fd = (loss(M, a_fixed, b + step) - loss(M, a_fixed, b)) / 1e-8
        assert abs(float(fd) - float(b.grad[j])) < 1e-5, j

    def on_positive(M, positive):
        a = torch.cat([positive[:1], torch.zeros(1, dtype=positive.dtype), positive[1:]])
        return okt.sinkhorn(M, a, reg=0.3, tol=1e-14)

    positive = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(on_positive, (M, positive))


def test_jax_sinkhorn_gradient_at_zero_weights_is_the_one_sided_derivative():
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    import optkern.jax as okj

    rng = np.random.default_rng(0)
    M, W = rng.random((4, 3)), rng.random((4, 3))

    def loss(M, a, b=None):
        return float(np.sum(np.asarray(okj.sinkhorn(M, a, b, reg=0.3, tol=1e-14)) * W))

    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        def traced(M, a, b=None):
            return (okj.sinkhorn(M, a, b, reg=0.3, tol=1e-14) * jnp.asarray(W)).sum()

        a = jnp.array([0.5, 0.0, 0.3, 0.2])
        grad_a = np.asarray(jax.grad(traced, 1)(jnp.asarray(M), a))
        assert np.isfinite(grad_a).all()
        for i in range(4):
            step = np.zeros(4)
            step[i] = 1e-7
            fd = (loss(M, np.asarray(a) + step) - loss(M, np.asarray(a))) / 1e-7
            assert abs(fd - grad_a[i]) < 1e-5, i
    finally:
        jax.config.update("jax_enable_x64", old)


# --- 15. empty batches need no memory ---------------------------------------------------------


def empty(shape, dtype=np.float64):
    return np.broadcast_to(np.zeros((), dtype), shape)  # no memory, whatever the shape


BIG = 2**40


@pytest.mark.parametrize("name", [
    "tv.denoise", "tv.denoise info", "tv.denoise irls", "tv.denoise_vjp", "tv.lambda_max",
    "bmm", "bmm empty matrices", "tridiagonal_solve", "ot.sinkhorn", "ot.sinkhorn_vjp",
    "minimize_batch"])
def test_empty_batches_need_no_memory(name):
    calls = {
        "tv.denoise": lambda: tv.denoise(empty((BIG, 0)), 1.0),
        "tv.denoise info": lambda: tv.denoise(empty((BIG, 0)), 1.0, return_info=True),
        "tv.denoise irls": lambda: tv.denoise(empty((BIG, 0)), 1.0, method="irls",
                                              return_info=True),
        "tv.denoise_vjp": lambda: tv.denoise_vjp(empty((BIG, 0)), empty((BIG, 0)), 1.0),
        "tv.lambda_max": lambda: tv.lambda_max(empty((BIG, 0))),
        "bmm": lambda: linalg.bmm(empty((BIG, 0, 3)), empty((BIG, 3, 0))),
        "bmm empty matrices": lambda: linalg.bmm(empty((0, 2**20, 2**20)),
                                                 empty((0, 2**20, 2**20))),
        "tridiagonal_solve": lambda: linalg.tridiagonal_solve(*[empty((BIG, 0))] * 4),
        "ot.sinkhorn": lambda: ot.sinkhorn(empty((0, 2**20, 2**20)), reg=1.0),
        "ot.sinkhorn_vjp": lambda: ot.sinkhorn_vjp(empty((0, 2**20, 2**20)),
                                                   empty((0, 2**20, 2**20)), 1.0),
        "minimize_batch": lambda: minimize_batch(problems.rosenbrock(2**20), empty((0, 2**20))),
    }
    result = calls[name]()
    if name in ("tv.denoise info", "tv.denoise irls"):
        assert result.y.shape == (BIG, 0)
        assert result.nit.shape == result.change.shape == result.converged.shape == (BIG,)
        assert result.nit[BIG - 1] == 0 and result.converged[BIG - 1]
    if name == "tv.lambda_max":
        assert result.shape == (BIG,) and float(result[12345]) == 0.0


def test_empty_tv_still_checks_lam():
    with pytest.raises(ValueError, match="^lam: "):
        tv.denoise(np.zeros((3, 0)), -1.0)
    with pytest.raises(ValueError, match="^lam: "):
        tv.denoise(np.zeros((3, 0)), np.ones(4))
    grad_x, grad_lam = tv.denoise_vjp(np.zeros((3, 0)), np.zeros((3, 0)), np.ones((3, 1)))
    assert grad_x.shape == (3, 0) and grad_lam.shape == (3, 1) and not grad_lam.any()

