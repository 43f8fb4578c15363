"""optkern.ot.sinkhorn_vjp: against the dense KKT solves of the lecture notes (eqs 133 and 141),
central finite differences in float64, structure, batches, singular systems and bad input."""

import numpy as np
import pytest
from reference.sinkhorn import kkt_vjp_dense, kkt_vjp_full, min_norm_gauge, point_cloud_cost

from optkern.ot import SinkhornBackwardError, sinkhorn, sinkhorn_vjp


def problem(rng, m, n):
    M = rng.random((m, n))
    a = rng.random(m) + 0.2
    b = rng.random(n) + 0.2
    return M, a / a.sum(), b / b.sum()


def plan(M, a, b, reg):
    res = sinkhorn(M, a, b, reg=reg, tol=1e-15, max_iter=200000)
    return res.plan


@pytest.mark.parametrize(("m", "n"), [(2, 3), (5, 4), (4, 7), (6, 6), (8, 3)])
@pytest.mark.parametrize("reg", [1.0, 0.2, 0.05])
def test_matches_the_full_kkt_solve(rng, m, n, reg):
    M, a, b = problem(rng, m, n)
    P = plan(M, a, b, reg)
    W = rng.standard_normal((m, n))
    gM, ga, gb = sinkhorn_vjp(P, W, reg)
    rM, ra, rb = kkt_vjp_full(P, W, reg)
    ra, rb = min_norm_gauge(ra, rb)
    scale = np.abs(rM).max() + np.abs(W).max()
    np.testing.assert_allclose(gM, rM, atol=1e-12 * scale)
    np.testing.assert_allclose(ga, ra, atol=1e-12 * scale)
    np.testing.assert_allclose(gb, rb, atol=1e-12 * scale)


@pytest.mark.parametrize(("m", "n"), [(40, 25), (25, 40), (60, 60)])
@pytest.mark.parametrize("reg", [0.1, 0.01, 0.002])
def test_matches_the_dense_reduced_solve(m, n, reg):
    M = point_cloud_cost(m, n, seed=m + n)
    a, b = np.full(m, 1 / m), np.full(n, 1 / n)
    P = plan(M, a, b, reg)
    W = np.cos(np.arange(m * n)).reshape(m, n)
    gM, ga, gb = sinkhorn_vjp(P, W, reg)
    rM, ra, rb = kkt_vjp_dense(P, W, reg)
    ra, rb = min_norm_gauge(ra, rb)
    np.testing.assert_allclose(gM, rM, atol=1e-9 * np.abs(rM).max())
    np.testing.assert_allclose(ga, ra, atol=1e-9 * np.abs(ra).max())
    np.testing.assert_allclose(gb, rb, atol=1e-9 * np.abs(rb).max())


@pytest.mark.parametrize("reg", [1.0, 0.3, 0.1])
def test_central_finite_differences(rng, reg):
    m, n = 5, 4
    M, a, b = problem(rng, m, n)
    W = rng.standard_normal((m, n))

    def loss(M=M, a=a, b=b):
        return float(np.sum(W * plan(M, a, b, reg)))

    gM, ga, gb = sinkhorn_vjp(plan(M, a, b, reg), W, reg)
    h = 1e-6
    fd = np.zeros((m, n))
    for i in range(m):
        for j in range(n):
            E = np.zeros((m, n))
            E[i, j] = h
            fd[i, j] = (loss(M=M + E) - loss(M=M - E)) / (2 * h)
    np.testing.assert_allclose(gM, fd, atol=1e-8)
    # a and b move together (their masses must stay equal): d/dt L(a + t e_i, b + t e_j)
    for i, j in [(0, 0), (3, 1), (4, 3)]:
        ea, eb = np.zeros(m), np.zeros(n)
        ea[i], eb[j] = h, h
        fd_ab = (loss(a=a + ea, b=b + eb) - loss(a=a - ea, b=b - eb)) / (2 * h)
        assert fd_ab == pytest.approx(ga[i] + gb[j], abs=1e-7)
    # and along the simplex: a + t (e_1 - e_2) with b fixed
    d = np.zeros(m)
    d[1], d[2] = h, -h
    fd_a = (loss(a=a + d) - loss(a=a - d)) / (2 * h)
    assert fd_a == pytest.approx(ga[1] - ga[2], abs=1e-7)


def test_quadratic_loss_gradient_by_finite_differences(rng):
    """The bi-level loss of the notes' experiment (eq 147): 1/2 |P - P_target|^2."""
    m, n, reg = 6, 6, 0.1
    M, a, b = problem(rng, m, n)
    target = np.full((m, n), 1 / (m * n))

    def loss(M):
        return 0.5 * np.sum((plan(M, a, b, reg) - target) ** 2)

    P = plan(M, a, b, reg)
    gM, _, _ = sinkhorn_vjp(P, P - target, reg, a, b)
    h = 1e-6
    for i, j in [(0, 0), (2, 5), (5, 1)]:
        E = np.zeros((m, n))
        E[i, j] = h
        assert (loss(M + E) - loss(M - E)) / (2 * h) == pytest.approx(gM[i, j], abs=1e-9)


def test_structure(rng):
    M, a, b = problem(rng, 30, 20)
    P = plan(M, a, b, 0.05)
    gM, ga, gb = sinkhorn_vjp(P, rng.standard_normal((30, 20)), 0.05)
    scale = np.abs(gM).max()
    np.testing.assert_allclose(gM.sum(axis=0), 0, atol=1e-12 * scale)
    np.testing.assert_allclose(gM.sum(axis=1), 0, atol=1e-12 * scale)
    assert ga.sum() == pytest.approx(gb.sum(), abs=1e-12 * np.abs(ga).max())
    # a loss that depends on P only through its marginals has zero gradient
    W = np.add.outer(rng.standard_normal(30), rng.standard_normal(20))
    gM, _, _ = sinkhorn_vjp(P, W, 0.05)
    np.testing.assert_allclose(gM, 0, atol=1e-12)


def test_single_row_or_column_plans_do_not_move(rng):
    for shape in [(1, 5), (5, 1), (1, 1)]:
        P = plan(rng.random(shape), None, None, 0.1)
        gM, ga, gb = sinkhorn_vjp(P, rng.standard_normal(shape), 0.1)
        np.testing.assert_allclose(gM, 0, atol=1e-15)
        assert np.all(np.isfinite(ga)) and np.all(np.isfinite(gb))


def test_float32_is_solved_in_float64(rng):
    M = point_cloud_cost(50, 40, seed=7)
    P64 = plan(M, None, None, 0.01)
    W = rng.standard_normal((50, 40))
    g64 = sinkhorn_vjp(P64, W, 0.01)
    g32 = sinkhorn_vjp(P64.astype(np.float32), W.astype(np.float32), 0.01)
    for x32, x64 in zip(g32, g64):
        assert x32.dtype == np.float32
        np.testing.assert_allclose(x32, x64, atol=2e-4 * np.abs(x64).max())


def test_batches_and_broadcast_marginals(rng):
    B, m, n, reg = 4, 7, 5, 0.1
    M = rng.random((B, m, n))
    a = np.full(m, 1 / m)
    b = rng.random((B, n)) + 0.1
    b /= b.sum(-1, keepdims=True)
    P = sinkhorn(M, a, b, reg=reg, tol=1e-14).plan
    W = rng.standard_normal((B, m, n))
    gM, ga, gb = sinkhorn_vjp(P, W, reg, a, b)
    assert gM.shape == (B, m, n) and ga.shape == (m,) and gb.shape == (B, n)
    total_a = np.zeros(m)
    for k in range(B):
        one = sinkhorn_vjp(P[k], W[k], reg)
        np.testing.assert_allclose(gM[k], one[0], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(gb[k], one[2], rtol=1e-12, atol=1e-15)
        total_a += one[1]
    np.testing.assert_allclose(ga, total_a, rtol=1e-12)  # a was shared: its gradients add
    gM2, ga2, _ = sinkhorn_vjp(P, W, reg)
    assert ga2.shape == (B, m)
    # grad_P broadcasts to P's shape
    gM3, _, _ = sinkhorn_vjp(P, W[0], reg)
    np.testing.assert_allclose(gM3[2], sinkhorn_vjp(P[2], W[0], reg)[0], rtol=1e-12, atol=1e-15)


def test_large_problem_with_threads_matches_dense(rng):
    m, n, reg = 150, 130, 0.02
    M = point_cloud_cost(m, n, seed=11)
    P = plan(M, None, None, reg)
    W = rng.standard_normal((m, n))
    gM, ga, gb = sinkhorn_vjp(P, W, reg)
    rM, ra, rb = kkt_vjp_dense(P, W, reg)
    ra, rb = min_norm_gauge(ra, rb)
    np.testing.assert_allclose(gM, rM, atol=1e-9 * np.abs(rM).max())
    np.testing.assert_allclose(gb, rb, atol=1e-9 * np.abs(rb).max())


def test_zero_rows_and_columns(rng):
    M, a, b = problem(rng, 6, 5)
    a[2] = 0
    b[4] = 0
    a, b = a / a.sum(), b / b.sum()
    reg = 0.2
    P = plan(M, a, b, reg)
    W = rng.standard_normal((6, 5))
    gM, ga, gb = sinkhorn_vjp(P, W, reg, a, b)
    assert np.all(gM[2] == 0) and np.all(gM[:, 4] == 0)
    assert np.isnan(ga[2]) and np.isnan(gb[4])
    keep_r, keep_c = a > 0, b > 0
    rM, ra, rb = kkt_vjp_full(P[keep_r][:, keep_c], W[keep_r][:, keep_c], reg)
    ra, rb = min_norm_gauge(ra, rb)
    np.testing.assert_allclose(gM[keep_r][:, keep_c], rM, atol=1e-12)
    np.testing.assert_allclose(ga[keep_r], ra, atol=1e-12)
    np.testing.assert_allclose(gb[keep_c], rb, atol=1e-12)


def block_diagonal_plan():
    P = np.zeros((4, 4))
    P[:2, :2] = 0.125
    P[2:, 2:] = 0.125
    return P


def test_disconnected_support_raises_and_names_the_item(rng):
    good = plan(rng.random((4, 4)), None, None, 0.1)
    P = np.stack([good, block_diagonal_plan(), good])
    W = rng.standard_normal((3, 4, 4))
    with pytest.raises(SinkhornBackwardError, match="batch item") as info:
        sinkhorn_vjp(P, W, 0.1)
    assert info.value.items == [1]
    assert isinstance(info.value, np.linalg.LinAlgError) and isinstance(info.value, ValueError)
    gM, ga, gb = sinkhorn_vjp(P, W, 0.1, on_singular="nan")
    assert np.all(np.isnan(gM[1])) and np.all(np.isnan(ga[1])) and np.all(np.isnan(gb[1]))
    np.testing.assert_allclose(gM[0], sinkhorn_vjp(good, W[0], 0.1)[0], rtol=1e-12, atol=1e-15)


def test_underflowed_plan_is_flagged_not_patched():
    """At a tiny reg, a float32 plan can lose every entry linking two groups of points: the
    system is then singular, which is reported (ddn substitutes an identity instead)."""
    x = np.array([0.0, 0.01, 1.0, 1.01])
    M = (x[:, None] - x[None, :]) ** 2
    P = sinkhorn(M.astype(np.float32), reg=1e-3).plan
    assert np.all(P[:2, 2:] == 0)
    with pytest.raises(SinkhornBackwardError):
        sinkhorn_vjp(P, np.ones_like(P), 1e-3)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"P": -np.ones((3, 4))}, "P"),
        ({"P": np.full((3, 4), np.nan)}, "P"),
        ({"P": np.ones(4)}, "P"),
        ({"P": np.ones((0, 4))}, "P"),
        ({"grad_P": np.ones((4, 3))}, "grad_P"),
        ({"grad_P": np.full((3, 4), np.inf)}, "grad_P"),
        ({"reg": 0.0}, "reg"),
        ({"reg": -0.1}, "reg"),
        ({"a": np.ones(4)}, "a"),
        ({"a": -np.ones(3)}, "a"),
        ({"b": np.zeros(4)}, "b"),
        ({"a": np.ones((2, 3)) / 3}, "a, b"),
        ({"on_singular": "ignore"}, "on_singular"),
    ],
)
def test_bad_input_names_the_argument(kwargs, name):
    args = {"P": np.full((3, 4), 1 / 12), "grad_P": np.ones((3, 4)), "reg": 0.1}
    args.update(kwargs)
    with pytest.raises(ValueError, match=f"^{name}:"):
        sinkhorn_vjp(args.pop("P"), args.pop("grad_P"), args.pop("reg"), **args)
