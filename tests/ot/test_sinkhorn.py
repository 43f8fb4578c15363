"""optkern.ot.sinkhorn and sinkhorn_cost on the CPU: against the NumPy reference, structure,
stability at small reg, batches, zero weights, warm starts and bad input."""

import numpy as np
import pytest
from conftest import CONVERGED, EPS
from reference.sinkhorn import entropic_value, point_cloud_cost, sinkhorn_reference

import optkern
from optkern.ot import sinkhorn, sinkhorn_cost


def random_problem(rng, m, n, zeros=False):
    M = rng.random((m, n))
    a = rng.random(m) + 0.1
    b = rng.random(n) + 0.1
    if zeros:
        a[::3] = 0
        b[1::4] = 0
    return M, a / a.sum(), b / b.sum()


def gauge(f, g, a, b):
    """The potentials shifted to the gauge <a, f> = <b, g> the solver returns."""
    t = (np.dot(b, g) - np.dot(a, f)) / (2 * a.sum())
    return f + t, g - t


@pytest.mark.parametrize(("m", "n"), [(1, 1), (1, 5), (6, 1), (5, 4), (13, 29), (64, 48)])
@pytest.mark.parametrize("reg", [1.0, 0.1, 0.02])
@pytest.mark.parametrize("method", ["plain", "log", "auto"])
def test_matches_reference(rng, m, n, reg, method):
    M, a, b = random_problem(rng, m, n)
    P_ref, f_ref, g_ref, _ = sinkhorn_reference(M, a, b, reg, tol=1e-14)
    res = sinkhorn(M, a, b, reg=reg, method=method, tol=1e-13)
    assert res.converged and res.marginal_error <= 1e-13
    np.testing.assert_allclose(res.plan, P_ref, rtol=1e-9, atol=1e-14)
    f_ref, g_ref = gauge(f_ref, g_ref, a, b)
    np.testing.assert_allclose(res.f, f_ref, atol=1e-9 * reg)
    np.testing.assert_allclose(res.g, g_ref, atol=1e-9 * reg)
    assert res.cost == pytest.approx(np.sum(M * P_ref), rel=1e-10)
    assert res.value == pytest.approx(entropic_value(M, P_ref, reg), rel=1e-10, abs=1e-12)
    assert res.method == ("log" if method == "log" else "plain")


def test_potentials_give_the_plan_and_gauge(rng):
    M, a, b = random_problem(rng, 7, 9)
    res = sinkhorn(M, a, b, reg=0.05)
    P = np.exp((res.f[:, None] + res.g[None, :] - M) / 0.05)
    np.testing.assert_allclose(P, res.plan, rtol=1e-12)
    assert np.dot(a, res.f) == pytest.approx(np.dot(b, res.g), abs=1e-14)


def test_marginal_error_is_the_returned_plans(rng, dtype):
    M, a, b = random_problem(rng, 30, 20)
    res = sinkhorn(M.astype(dtype), a, b, reg=0.1, tol=1e-6, max_iter=30)
    P = res.plan.astype(np.float64)
    a32, b32 = a.astype(dtype).astype(np.float64), b.astype(dtype).astype(np.float64)
    b32 *= a32.sum() / b32.sum()
    err = max(np.abs(P.sum(1) - a32).max(), np.abs(P.sum(0) - b32).max())
    assert res.marginal_error == pytest.approx(err, rel=1e-6, abs=1e-15)
    rounding = 0.5 * np.finfo(dtype).eps * max(a32.max(), b32.max())
    assert res.converged == (res.marginal_error <= 1e-6 * a32.sum() + rounding)


@pytest.mark.parametrize(("m", "n"), [(2, 3), (5, 4), (10, 10)])
def test_small_float32_problems_converge(rng, m, n):
    """Rounding the plan to float32 moves its sums by ~6e-8 of a weight: that is not counted
    against the tolerance."""
    res = sinkhorn(rng.random((m, n)).astype(np.float32), reg=0.1)
    assert res.converged and res.n_iter < 200


def test_float32_stays_float32_and_reaches_the_default_tolerance(rng):
    M, a, b = random_problem(rng, 40, 50)
    res32 = sinkhorn(M.astype(np.float32), a.astype(np.float32), b.astype(np.float32), reg=0.05)
    res64 = sinkhorn(M, a, b, reg=0.05)
    assert res32.plan.dtype == res32.f.dtype == res32.g.dtype == np.float32
    assert res32.converged  # potentials and sums are kept in double
    np.testing.assert_allclose(res32.plan, res64.plan, rtol=2e-4, atol=1e-9)
    np.testing.assert_allclose(res32.f, res64.f, atol=2e-5)


@pytest.mark.parametrize("threads", [1, 2])
def test_float32_iterations_in_float_arithmetic_track_double(rng, threads):
    # Away from its convergence checks, the float32 kernel-domain iteration sums products in
    # float (row_kernels.hpp); with tol=0 every iteration after the first does. It must stay
    # within float32 rounding of the same iteration in double, on a problem large enough for
    # full vector blocks and a team, with zero weights and a row tail (m % 4 != 0).
    m, n = 603, 517
    M = point_cloud_cost(m, n, seed=7).astype(np.float32)
    a, b = rng.random(m), rng.random(n)
    a[::50], b[3::40] = 0, 0
    a, b = a / a.sum(), b / b.sum()
    old = optkern.set_num_threads(threads)
    try:
        fast = sinkhorn(M, a.astype(np.float32), b.astype(np.float32), reg=0.05,
                        method="plain", tol=0.0, max_iter=60)
        exact = sinkhorn(M.astype(np.float64), a, b, reg=0.05, method="plain", tol=0.0,
                         max_iter=60)
        # to a tight tolerance the checks run in double: the result is the converged one
        tight = sinkhorn(M, a.astype(np.float32), b.astype(np.float32), reg=0.05,
                         method="plain", tol=1e-10)
    finally:
        optkern.set_num_threads(old)
    np.testing.assert_allclose(fast.plan, exact.plan, rtol=1e-4, atol=1e-10)
    np.testing.assert_allclose(fast.f, exact.f, atol=1e-5)
    assert tight.converged and tight.marginal_error <= 1e-10
    assert (fast.plan[::50] == 0).all() and (fast.plan[:, 3::40] == 0).all()


def test_integer_cost_is_promoted():
    M = np.array([[0, 1, 4], [1, 0, 1], [4, 1, 0]])
    res = sinkhorn(M, reg=0.5)
    assert res.plan.dtype == np.float64 and res.converged


def test_plain_and_log_agree_where_both_are_stable(rng, dtype):
    M = point_cloud_cost(120, 90, seed=3).astype(dtype)
    for reg in (0.5, 0.05, 0.02):
        plain = sinkhorn(M, reg=reg, method="plain", tol=1e-11)
        log = sinkhorn(M, reg=reg, method="log", tol=1e-11)
        assert plain.method == "plain" and log.method == "log"
        np.testing.assert_allclose(plain.plan, log.plan, rtol=CONVERGED[dtype],
                                   atol=1e-12)
        np.testing.assert_allclose(plain.f, log.f,
                                   atol=1e-8 * reg + 10 * EPS[dtype])


def test_auto_switches_to_log_when_the_kernel_would_underflow():
    M = point_cloud_cost(50, seed=1)
    assert sinkhorn(M, reg=0.1).method == "plain"
    assert sinkhorn(M, reg=1e-3).method == "log"
    # float32 kernels underflow sooner (exp(-80) is the limit in float32, exp(-300) in double)
    assert sinkhorn(M, reg=1 / 150).method == "plain"
    assert sinkhorn(M.astype(np.float32), reg=1 / 150).method == "log"


@pytest.mark.parametrize("method", ["auto", "plain", "log"])
def test_small_reg_gives_a_finite_plan(method, dtype):
    """reg down to 1e-4 with M in [0, 1]: POT's kernel method returns NaN here."""
    M = point_cloud_cost(60, 50, seed=5).astype(dtype)
    for reg in (1e-3, 1e-4):
        res = sinkhorn(M, reg=reg, method=method, max_iter=300)
        for x in (res.plan, res.f, res.g):
            assert np.all(np.isfinite(x))
        assert np.isfinite(res.cost) and np.isfinite(res.value)
        assert res.plan.min() >= 0
        # auto takes the log domain here; an explicit "plain" either keeps its (partly
        # underflowed) kernel or, when its scalings leave the range of double, goes on in
        # the log domain
        assert res.method == ("log" if method != "plain" else res.method)


def test_small_reg_converges_to_the_reference():
    M = point_cloud_cost(40, 30, seed=9)
    res = sinkhorn(M, reg=1e-3, tol=1e-11, max_iter=200000)
    P_ref, *_ = sinkhorn_reference(M, np.full(40, 1 / 40), np.full(30, 1 / 30), 1e-3, tol=1e-12,
                                   max_iter=200000)
    assert res.converged
    np.testing.assert_allclose(res.plan, P_ref, atol=1e-10)


def test_unconverged_is_reported_not_raised():
    M = point_cloud_cost(30, seed=2)
    res = sinkhorn(M, reg=1e-3, max_iter=5)
    assert res.converged is False and res.n_iter == 5
    assert res.marginal_error > 1e-9


def test_tol_zero_runs_exactly_max_iter(rng):
    M, a, b = random_problem(rng, 8, 8)
    for method in ("plain", "log"):
        assert sinkhorn(M, a, b, reg=0.5, tol=0, max_iter=37, method=method).n_iter == 37


def test_warm_start(rng):
    M, a, b = random_problem(rng, 25, 35)
    cold = sinkhorn(M, a, b, reg=0.01, tol=1e-12)
    for method in ("plain", "log"):
        warm = sinkhorn(M, a, b, reg=0.01, init=(cold.f, cold.g), method=method, tol=1e-12)
        assert warm.converged and warm.n_iter <= 10 < cold.n_iter
        np.testing.assert_allclose(warm.plan, cold.plan, atol=1e-12)
    from_f = sinkhorn(M, a, b, reg=0.01, init=(cold.f, None), tol=1e-12)
    assert from_f.converged and from_f.n_iter <= 10


def test_zero_weights(rng):
    M, a, b = random_problem(rng, 12, 9, zeros=True)
    for method in ("plain", "log"):
        res = sinkhorn(M, a, b, reg=0.05, method=method, tol=1e-13)
        assert res.converged
        assert np.all(res.plan[a == 0] == 0) and np.all(res.plan[:, b == 0] == 0)
        assert np.all(np.isfinite(res.f)) and np.all(np.isfinite(res.g))
        # the reduced problem is what is solved
        P_ref, *_ = sinkhorn_reference(M[a > 0][:, b > 0], a[a > 0], b[b > 0], 0.05, tol=1e-14)
        np.testing.assert_allclose(res.plan[a > 0][:, b > 0], P_ref, rtol=1e-9, atol=1e-15)
        # zero weights get the soft c-transform
        row = 0
        expect = -0.05 * np.log(np.sum(np.exp((res.g[b > 0] - M[row, b > 0]) / 0.05)))
        assert res.f[row] == pytest.approx(expect, abs=1e-12)
        assert np.isfinite(res.value) and res.value == pytest.approx(
            entropic_value(M, res.plan, 0.05), abs=1e-12)


def test_unnormalised_marginals_and_default_b():
    M = point_cloud_cost(10, 14, seed=4)
    a = np.linspace(1, 2, 10)
    res = sinkhorn(M, a, reg=0.1)  # b defaults to uniform with the mass of a
    np.testing.assert_allclose(res.plan.sum(0), np.full(14, a.sum() / 14), rtol=1e-9)
    assert res.converged
    # a mass mismatch within 1e-6 is absorbed by rescaling b
    b = np.full(14, a.sum() / 14) * (1 + 5e-7)
    res = sinkhorn(M, a, b, reg=0.1)
    np.testing.assert_allclose(res.plan.sum(0), b * a.sum() / b.sum(), rtol=1e-9)


def test_batches_match_single_problems(rng):
    B, m, n = 5, 7, 11
    M = rng.random((B, m, n))
    a = rng.random(m) + 0.1
    a /= a.sum()
    b = rng.random((B, n)) + 0.1
    b /= b.sum(-1, keepdims=True)
    res = sinkhorn(M, a, b, reg=0.05)
    assert res.plan.shape == (B, m, n) and res.f.shape == (B, m) and res.g.shape == (B, n)
    assert res.n_iter.shape == (B,) and res.converged.dtype == bool and res.method.shape == (B,)
    for k in range(B):
        one = sinkhorn(M[k], a, b[k], reg=0.05)
        np.testing.assert_allclose(res.plan[k], one.plan, rtol=1e-12, atol=1e-16)
        assert res.n_iter[k] == one.n_iter
        assert res.value[k] == pytest.approx(one.value, rel=1e-12)


def test_shared_cost_many_marginals_and_broadcasting(rng):
    m, n = 6, 8
    M = rng.random((m, n))
    a = rng.random((3, 1, m)) + 0.1
    a /= a.sum(-1, keepdims=True)
    b = rng.random((1, 4, n)) + 0.1
    b /= b.sum(-1, keepdims=True)
    res = sinkhorn(M, a, b, reg=0.1)
    assert res.plan.shape == (3, 4, m, n)
    one = sinkhorn(M, a[2, 0], b[0, 3], reg=0.1)
    np.testing.assert_allclose(res.plan[2, 3], one.plan, rtol=1e-12, atol=1e-16)


def test_empty_batch():
    res = sinkhorn(np.zeros((0, 3, 4)), reg=1.0)
    assert res.plan.shape == (0, 3, 4) and res.f.shape == (0, 3) and res.n_iter.shape == (0,)


def test_threads_within_one_problem_agree_with_one_thread():
    M = point_cloud_cost(530, 517, seed=6)  # m n >= 512^2: the threads share the problem
    old = optkern.set_num_threads(1)
    try:
        one = [sinkhorn(M, reg=r, method=meth) for r, meth in ((0.05, "plain"), (0.005, "log"))]
    finally:
        optkern.set_num_threads(old)
    optkern.set_num_threads(2)
    try:
        two = [sinkhorn(M, reg=r, method=meth) for r, meth in ((0.05, "plain"), (0.005, "log"))]
    finally:
        optkern.set_num_threads(old)
    for x, y in zip(one, two):
        assert x.converged and y.converged and abs(x.n_iter - y.n_iter) <= 10
        np.testing.assert_allclose(x.plan, y.plan, atol=1e-12)


def test_sinkhorn_cost_and_its_envelope_gradient(rng):
    M, a, b = random_problem(rng, 6, 5)
    reg = 0.1
    value, (gM, ga, gb) = sinkhorn_cost(M, a, b, reg=reg, tol=1e-14, return_grad=True)
    assert value == pytest.approx(entropic_value(M, gM, reg), rel=1e-12)
    assert ga.sum() == pytest.approx(gb.sum(), abs=1e-12)
    h = 1e-6

    def cost(M=M, a=a, b=b):
        return sinkhorn_cost(M, a, b, reg=reg, tol=1e-15, max_iter=100000)

    E = np.zeros_like(M)
    E[2, 3] = h
    assert (cost(M=M + E) - cost(M=M - E)) / (2 * h) == pytest.approx(gM[2, 3], abs=1e-8)
    # joint perturbations keep the masses equal: d/dt OT(a + t e_i, b + t e_j) = ga_i + gb_j
    ea, eb = np.zeros(6), np.zeros(5)
    ea[1], eb[4] = h, h
    fd = (cost(a=a + ea, b=b + eb) - cost(a=a - ea, b=b - eb)) / (2 * h)
    assert fd == pytest.approx(ga[1] + gb[4], abs=1e-7)


def test_readme_style_batch_cost(rng):
    M = rng.random((4, 10, 10))
    values = sinkhorn_cost(M, reg=0.1)
    assert values.shape == (4,)


# --- bad input --------------------------------------------------------------------------------

GOOD_M = np.arange(12.0).reshape(3, 4) / 12


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"M": np.array([[np.nan, 1.0], [0.0, 1.0]])}, "M"),
        ({"M": np.array([[np.inf, 1.0], [0.0, 1.0]])}, "M"),
        ({"M": np.ones(4)}, "M"),
        ({"M": np.ones((0, 4))}, "M"),
        ({"M": np.ones((2, 2), complex)}, "M"),
        ({"a": np.array([0.5, 0.6, -0.1])}, "a"),
        ({"a": np.zeros(3)}, "a"),
        ({"a": np.ones(4) / 4}, "a"),
        ({"a": np.array([0.3, np.nan, 0.3])}, "a"),
        ({"b": np.zeros(4)}, "b"),
        ({"b": np.ones(3) / 3}, "b"),
        ({"b": np.ones(4) / 2}, "b"),  # mass 2 against 1
        ({"reg": 0.0}, "reg"),
        ({"reg": -1.0}, "reg"),
        ({"reg": np.nan}, "reg"),
        ({"reg": np.inf}, "reg"),
        ({"reg": "0.1"}, "reg"),
        ({"reg": 1e-305}, "reg"),  # max|M| / reg overflows
        ({"max_iter": 0}, "max_iter"),
        ({"max_iter": 2.5}, "max_iter"),
        ({"tol": -1e-9}, "tol"),
        ({"method": "sinkhorn_log"}, "method"),
        ({"init": (None, np.zeros(3))}, "init"),
        ({"init": np.zeros(4)}, "init"),
        ({"init": (None, None)}, "init"),
        ({"device": "gpu"}, "device"),
    ],
)
def test_bad_input_names_the_argument(kwargs, name):
    args = {"M": GOOD_M, "reg": 0.1}
    args.update(kwargs)
    M = args.pop("M")
    with pytest.raises(ValueError, match=f"^{name}:"):
        sinkhorn(M, **args)


def test_batch_shapes_must_broadcast():
    with pytest.raises(ValueError, match="^M, a, b:"):
        sinkhorn(np.ones((2, 3, 4)), np.ones((3, 3)) / 3, reg=0.1)


def test_cuda_device_without_cuda_is_a_clear_error():
    if optkern.cuda_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="^device:"):
        sinkhorn(GOOD_M, reg=0.1, device="cuda")
