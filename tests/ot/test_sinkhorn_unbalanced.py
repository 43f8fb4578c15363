"""optkern.ot.sinkhorn_unbalanced and sinkhorn_unbalanced_vjp: against POT's
sinkhorn_unbalanced on its own test problems (plan to 1e-8), the NumPy reference, finite
differences for the backward, small reg, batches, float32 and bad input."""

import math

import numpy as np
import pytest
from reference.unbalanced import objective, unbalanced_reference, unbalanced_vjp_dense

import optkern
from optkern.ot import sinkhorn_unbalanced, sinkhorn_unbalanced_vjp

ot = pytest.importorskip("ot", minversion="0.9")

REG_MS = [1.0, (1.0, 0.5), (math.inf, 1.0), (0.3, math.inf)]


def pot_problem(n=100):
    """POT's test/unbalanced/test_sinkhorn.py setup: n = 100 points in 2-D, seed 42."""
    rng = np.random.RandomState(42)
    x = rng.randn(n, 2)
    a = ot.utils.unif(n)
    b = rng.rand(n)  # not normalised: masses differ
    M = ot.dist(x, x)
    return M, a, b


@pytest.mark.parametrize("reg_type", ["kl", "entropy"])
@pytest.mark.parametrize("reg_m", REG_MS)
@pytest.mark.parametrize("reg", [1.0, 0.1])
@pytest.mark.filterwarnings("ignore::UserWarning")  # POT: reg_type="entropy" ignores c
def test_matches_pot_plan(reg_type, reg_m, reg):
    M, a, b = pot_problem()
    P = ot.unbalanced.sinkhorn_unbalanced(a, b, M, reg, reg_m, reg_type=reg_type,
                                          stopThr=1e-15, numItermax=200000)
    res = sinkhorn_unbalanced(M, a, b, reg=reg, reg_m=reg_m, reg_type=reg_type, tol=1e-13,
                              max_iter=200000)
    assert res.converged
    np.testing.assert_allclose(res.plan, P, atol=1e-8 * P.max(), rtol=0)


@pytest.mark.parametrize("reg_type", ["kl", "entropy"])
def test_value_and_potentials(rng, reg_type):
    M, a, b = rng.random((6, 5)), rng.random(6) + 0.1, rng.random(5) + 0.3
    res = sinkhorn_unbalanced(M, a, b, reg=0.2, reg_m=(0.7, 1.3), reg_type=reg_type,
                              tol=1e-14)
    P, F, G = unbalanced_reference(M, a, b, 0.2, 0.7, 1.3, reg_type)
    np.testing.assert_allclose(res.plan, P, atol=1e-13)
    np.testing.assert_allclose(res.f / 0.2, F, atol=1e-10)
    np.testing.assert_allclose(res.g / 0.2, G, atol=1e-10)
    assert res.value == pytest.approx(objective(P, M, a, b, 0.2, 0.7, 1.3, reg_type), rel=1e-12)
    assert res.cost == pytest.approx(np.sum(M * P), rel=1e-12)
    # the plan is the minimiser: the objective grows along random feasible perturbations
    for _ in range(5):
        Q = P * np.exp(1e-3 * rng.standard_normal(P.shape))
        assert objective(Q, M, a, b, 0.2, 0.7, 1.3, reg_type) > res.value


def test_small_reg_never_nan(rng):
    M, a, b = pot_problem(40)
    for reg in [1e-2, 1e-4, 1e-8]:
        res = sinkhorn_unbalanced(M, a, b, reg=reg, reg_m=1.0, max_iter=2000)
        assert np.isfinite(res.plan).all() and np.isfinite(res.f).all()
        assert np.isfinite(res.value)


def test_batched_broadcast_and_float32(rng):
    M = rng.random((3, 5, 4))
    a = rng.random(5) + 0.1
    b = rng.random((3, 4)) + 0.1
    res = sinkhorn_unbalanced(M, a, b, reg=0.1, reg_m=0.5, tol=1e-13)
    assert res.plan.shape == (3, 5, 4) and res.n_iter.shape == (3,)
    for k in range(3):
        one = sinkhorn_unbalanced(M[k], a, b[k], reg=0.1, reg_m=0.5, tol=1e-13)
        np.testing.assert_allclose(res.plan[k], one.plan, rtol=1e-14, atol=1e-16)
    r32 = sinkhorn_unbalanced(M.astype(np.float32), a, b, reg=0.1, reg_m=0.5, tol=1e-7)
    assert r32.plan.dtype == np.float32 and r32.f.dtype == np.float32
    np.testing.assert_allclose(r32.plan, res.plan, rtol=1e-5, atol=1e-7)


def test_zero_weights(rng):
    M = rng.random((4, 3))
    a = np.array([0.3, 0.0, 0.5, 0.2])
    b = np.array([0.0, 0.6, 0.7])
    for reg_type in ("kl", "entropy"):
        res = sinkhorn_unbalanced(M, a, b, reg=0.1, reg_m=1.0, reg_type=reg_type)
        assert (res.plan[1] == 0).all() and (res.plan[:, 0] == 0).all()
        assert np.isfinite(res.f).all() and np.isfinite(res.g).all()
        P, _, _ = unbalanced_reference(M[[0, 2, 3]][:, 1:], a[[0, 2, 3]], b[1:], 0.1, 1.0, 1.0,
                                       reg_type)
        np.testing.assert_allclose(res.plan[[0, 2, 3]][:, 1:], P, atol=1e-10)


@pytest.mark.parametrize("method", ["plain", "log"])
@pytest.mark.parametrize("reg_type", ["kl", "entropy"])
def test_one_large_problem_on_a_team_of_threads(rng, method, reg_type):
    # m n >= 512^2 and fewer problems than threads: the threads share the rows and columns
    # of the problem (with zero weights on both sides)
    m, n = 700, 520
    x, y = rng.standard_normal((m, 2)), rng.standard_normal((n, 2))
    M = ((x[:, None] - y[None]) ** 2).sum(-1)
    a, b = rng.random(m), 1.3 * rng.random(n)
    a[::97] = 0
    b[5::61] = 0
    Ms = M[None]
    kwargs = dict(reg=0.05, reg_m=(1.0, 0.5), reg_type=reg_type, method=method, tol=1e-11)
    old = optkern.set_num_threads(1)
    try:
        one = sinkhorn_unbalanced(Ms, a, b, **kwargs)
        optkern.set_num_threads(2)
        team = sinkhorn_unbalanced(Ms, a, b, **kwargs)
    finally:
        optkern.set_num_threads(old)
    assert team.converged.all() and (team.method == method).all()
    np.testing.assert_allclose(team.plan, one.plan, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(team.f, one.f, rtol=1e-9, atol=1e-12)
    assert np.abs(team.n_iter - one.n_iter).max() <= 1  # summation order only
    assert (team.plan[:, ::97] == 0).all() and (team.plan[:, :, 5::61] == 0).all()
    ra, cb = a > 0, b > 0  # POT divides 0 by 0 at zero weights: compare without them
    P = ot.sinkhorn_unbalanced(a[ra], b[cb], M[ra][:, cb], 0.05, (1.0, 0.5), reg_type=reg_type,
                               numItermax=20000, stopThr=1e-13)
    np.testing.assert_allclose(team.plan[0][ra][:, cb], P, atol=1e-9 * P.max())


def test_team_falls_back_to_the_log_domain_together(rng):
    # reg so small that the kernel domain leaves the range: every member of the team must
    # agree to go on in the log domain (a member alone would hang the others at a barrier)
    m = n = 600
    M = 800 + 800 * rng.random((m, n))  # exp(-M) underflows: K v = 0 in the kernel domain
    a, b = rng.random(m), rng.random(n)
    old = optkern.set_num_threads(2)
    try:
        log = sinkhorn_unbalanced(M, a, b, reg=1.0, reg_m=1.0, method="log", tol=1e-9)
        auto = sinkhorn_unbalanced(M, a, b, reg=1.0, reg_m=1.0, method="auto", tol=1e-9)
        forced = sinkhorn_unbalanced(M, a, b, reg=1.0, reg_m=1.0, method="plain", tol=1e-9)
    finally:
        optkern.set_num_threads(old)
    assert auto.method == "log" and forced.method == "log" and forced.converged
    assert np.isfinite(forced.plan).all()
    np.testing.assert_allclose(forced.plan, log.plan, rtol=1e-9, atol=0)


@pytest.mark.parametrize("reg_type", ["kl", "entropy"])
@pytest.mark.parametrize("reg_m", REG_MS)
@pytest.mark.parametrize("shape", [(5, 4), (3, 6)])
def test_vjp_matches_dense_reference_and_finite_differences(rng, reg_type, reg_m, shape):
    m, n = shape
    M, a, b = rng.random((m, n)), rng.random(m) + 0.2, rng.random(n) + 0.4
    W = rng.standard_normal((m, n))
    kw = dict(reg=0.3, reg_m=reg_m, reg_type=reg_type)
    P = sinkhorn_unbalanced(M, a, b, **kw, tol=1e-13, max_iter=10**6).plan
    gM, ga, gb = sinkhorn_unbalanced_vjp(P, W, a, b, **kw)
    rho = reg_m if isinstance(reg_m, tuple) else (reg_m, reg_m)
    rM, ra, rb = unbalanced_vjp_dense(P, W, a, b, 0.3, *rho, reg_type)
    np.testing.assert_allclose(gM, rM, atol=1e-11)
    np.testing.assert_allclose(ga, ra, atol=1e-11)
    np.testing.assert_allclose(gb, rb, atol=1e-11)

    def loss(M, a, b):
        return np.sum(W * sinkhorn_unbalanced(M, a, b, **kw, tol=1e-13, max_iter=10**6).plan)

    h = 1e-6
    dM, da, db = (rng.standard_normal(x.shape) for x in (M, a, b))
    fd = (loss(M + h * dM, a + h * da, b + h * db) - loss(M - h * dM, a - h * da, b - h * db))
    fd /= 2 * h
    assert fd == pytest.approx(np.sum(gM * dM) + ga @ da + gb @ db, rel=1e-6, abs=1e-8)


def test_vjp_batched(rng):
    M, W = rng.random((2, 4, 5)), rng.standard_normal((2, 4, 5))
    P = sinkhorn_unbalanced(M, reg=0.2, reg_m=0.5, tol=1e-14).plan
    gM, ga, gb = sinkhorn_unbalanced_vjp(P, W, reg=0.2, reg_m=0.5)
    assert gM.shape == (2, 4, 5) and ga.shape == (2, 4) and gb.shape == (2, 5)
    for k in range(2):
        one = sinkhorn_unbalanced_vjp(P[k], W[k], reg=0.2, reg_m=0.5)
        for x, y in zip((gM[k], ga[k], gb[k]), one):
            np.testing.assert_allclose(x, y, atol=1e-14)


@pytest.mark.parametrize(("kwargs", "name"), [
    (dict(reg=0.0), "reg"),
    (dict(reg_m=0.0), "reg_m"),
    (dict(reg_m=-1.0), "reg_m"),
    (dict(reg_m=(math.inf, math.inf)), "reg_m"),
    (dict(reg_m=(1.0, 2.0, 3.0)), "reg_m"),
    (dict(reg_m=float("nan")), "reg_m"),
    (dict(reg_type="l2"), "reg_type"),
    (dict(method="plain2"), "method"),
    (dict(tol=-1.0), "tol"),
    (dict(max_iter=0), "max_iter"),
])
def test_bad_options(rng, kwargs, name):
    kw = {"reg": 0.1, "reg_m": 1.0, **kwargs}
    with pytest.raises(ValueError, match=f"^{name}:"):
        sinkhorn_unbalanced(rng.random((3, 2)), **kw)


def test_bad_arrays(rng):
    M = rng.random((3, 2))
    with pytest.raises(ValueError, match="^M:"):
        sinkhorn_unbalanced(np.full((3, 2), np.nan), reg=0.1, reg_m=1.0)
    with pytest.raises(ValueError, match="^a:"):
        sinkhorn_unbalanced(M, [-1.0, 1.0, 1.0], reg=0.1, reg_m=1.0)
    with pytest.raises(ValueError, match="^b:"):
        sinkhorn_unbalanced(M, None, [1.0, 1.0, 1.0], reg=0.1, reg_m=1.0)
    with pytest.raises(ValueError, match="^P:"):
        sinkhorn_unbalanced_vjp(-np.ones((2, 2)), np.ones((2, 2)), reg=0.1, reg_m=1.0)
    with pytest.raises(ValueError, match="^grad_P:"):
        sinkhorn_unbalanced_vjp(np.ones((2, 2)), np.ones((3, 2)), reg=0.1, reg_m=1.0)


def test_torch_and_jax_adapters(rng):
    torch = pytest.importorskip("torch")
    import optkern.torch

    M, a, b = rng.random((4, 3)), rng.random(4) + 0.2, rng.random(3) + 0.5
    W = rng.standard_normal((4, 3))
    kw = dict(reg=0.3, reg_m=(0.5, 2.0), tol=1e-14)
    args = [torch.tensor(v, requires_grad=True) for v in (M, a, b)]
    assert torch.autograd.gradcheck(
        lambda M, a, b: (torch.tensor(W) * optkern.torch.sinkhorn_unbalanced(M, a, b, **kw))
        .sum(), args, eps=1e-6, atol=1e-6)
    loss = (torch.tensor(W) * optkern.torch.sinkhorn_unbalanced(*args, **kw)).sum()
    loss.backward()
    jax = pytest.importorskip("jax")
    import optkern.jax

    with jax.enable_x64(True):
        grads = jax.grad(lambda M, a, b: (W * optkern.jax.sinkhorn_unbalanced(M, a, b, **kw))
                         .sum(), argnums=(0, 1, 2))(M, a, b)
    for g, t in zip(grads, args):
        np.testing.assert_allclose(np.asarray(g), t.grad.numpy(), atol=1e-10)
