"""optkern.ot.sinkhorn_points: the same potentials as the dense sinkhorn and the NumPy
reference, the plan as an operator (apply, apply_T, plan()), batches, float32, zero weights,
warm starts and bad input."""

import functools

import numpy as np
import pytest
from inputs import point_clouds
from reference.ot_losses import cost_matrix
from reference.sinkhorn import sinkhorn_reference

import optkern
from optkern.ot import sinkhorn, sinkhorn_points

clouds = functools.partial(point_clouds, d=3, shift=0.3)


@pytest.mark.parametrize("cost", ["sqeuclidean", "euclidean"])
@pytest.mark.parametrize("reg", [1.0, 0.1])
def test_same_potentials_as_dense(rng, cost, reg):
    x, y, a, b = clouds(rng, 60, 45)
    res = sinkhorn_points(x, y, a, b, reg=reg, cost=cost, tol=1e-13)
    M = cost_matrix(x, y, cost)
    dense = sinkhorn(M, a, b, reg=reg, tol=1e-13, method="log")
    assert res.converged and res.n_iter >= 1
    np.testing.assert_allclose(res.f, dense.f, atol=1e-10)
    np.testing.assert_allclose(res.g, dense.g, atol=1e-10)
    assert res.value == pytest.approx(dense.value, rel=1e-11)
    assert res.cost == pytest.approx(dense.cost, rel=1e-10)
    P, _, _, _ = sinkhorn_reference(M, a, b, reg, tol=1e-13)
    np.testing.assert_allclose(res.plan(), P, atol=1e-13)


def test_apply_and_apply_T(rng):
    x, y, a, b = clouds(rng, 30, 20)
    res = sinkhorn_points(x, y, a, b, reg=0.2)
    P = res.plan()
    v, u = rng.standard_normal(20), rng.standard_normal(30)
    np.testing.assert_allclose(res.apply(v), P @ v, atol=1e-14)
    np.testing.assert_allclose(res.apply_T(u), P.T @ u, atol=1e-14)
    np.testing.assert_allclose(res.apply(np.ones(20)), a, atol=1e-9)
    np.testing.assert_allclose(res.apply_T(np.ones(30)), b, atol=1e-9)
    # the envelope gradient of the value in x: 2 (a_i x_i - (P y)_i)
    Py = np.stack([res.apply(y[:, k]) for k in range(3)], 1)
    grad = 2 * (res.apply(np.ones(20))[:, None] * x - Py)
    np.testing.assert_allclose(grad, 2 * (P.sum(1)[:, None] * x - P @ y), atol=1e-12)
    with pytest.raises(ValueError, match="^v:"):
        res.apply(np.ones(7))
    with pytest.raises(ValueError, match="^u:"):
        res.apply_T(np.ones(20))


def test_batched_and_float32(rng):
    x = rng.normal(size=(3, 15, 2))
    y = rng.normal(size=(12, 2))
    res = sinkhorn_points(x, y, reg=0.3, tol=1e-12)
    assert res.f.shape == (3, 15) and res.n_iter.shape == (3,)
    assert res.apply(np.ones(12)).shape == (3, 15)
    for k in range(3):
        one = sinkhorn_points(x[k], y, reg=0.3, tol=1e-12)
        np.testing.assert_allclose(res.f[k], one.f, atol=1e-14)
    r32 = sinkhorn_points(x.astype(np.float32), y.astype(np.float32), reg=0.3, tol=1e-12)
    assert r32.converged.all()
    np.testing.assert_allclose(r32.f, res.f, atol=1e-5)


def test_zero_weights_match_dense(rng):
    x, y, a, b = clouds(rng, 8, 6)
    a[2] = 0
    b[0] = 0
    b *= a.sum() / b.sum()
    res = sinkhorn_points(x, y, a, b, reg=0.2, tol=1e-13)
    dense = sinkhorn(cost_matrix(x, y, "sqeuclidean"), a, b, reg=0.2, tol=1e-13)
    assert np.isfinite(res.f).all() and np.isfinite(res.g).all()
    np.testing.assert_allclose(res.f, dense.f, atol=1e-10)
    np.testing.assert_allclose(res.g, dense.g, atol=1e-10)
    np.testing.assert_allclose(res.plan(), dense.plan, atol=1e-14)


def test_warm_start(rng):
    x, y, a, b = clouds(rng, 40, 30)
    cold = sinkhorn_points(x, y, a, b, reg=0.05, tol=1e-10)
    warm = sinkhorn_points(x, y, a, b, reg=0.05, tol=1e-10, init=cold.g)
    assert warm.n_iter < cold.n_iter // 2
    np.testing.assert_allclose(warm.f, cold.f, atol=1e-8)


@pytest.mark.parametrize("mass", [1e-250, 1e-100, 1e160, 1e250])
def test_extreme_masses_match_dense(rng, mass):
    # the kernel runs on mass near 1 and the results are scaled back (f and g shift by
    # reg log(mass) / 2); masses beyond 1e154 gave NaN reported as converged before
    x, y, a, b = clouds(rng, 12, 9)
    res = sinkhorn_points(x, y, a * mass, b * mass, reg=0.1, tol=1e-12)
    dense = sinkhorn(cost_matrix(x, y, "sqeuclidean"), a * mass, b * mass, reg=0.1, tol=1e-12,
                     method="log")
    assert res.converged and np.isfinite(res.f).all() and np.isfinite(res.g).all()
    np.testing.assert_allclose(res.f, dense.f, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(res.g, dense.g, rtol=1e-9, atol=1e-9)
    assert res.cost == pytest.approx(dense.cost, rel=1e-9)
    assert res.value == pytest.approx(dense.value, rel=1e-9)
    assert res.marginal_error <= 1e-9 * mass
    warm = sinkhorn_points(x, y, a * mass, b * mass, reg=0.1, tol=1e-12, init=res.g)
    assert warm.n_iter <= 2 and warm.converged


def test_small_reg_is_finite(rng):
    x, y, a, b = clouds(rng, 20, 20)
    res = sinkhorn_points(x, y, a, b, reg=1e-4, max_iter=50)
    assert np.isfinite(res.f).all() and np.isfinite(res.g).all() and np.isfinite(res.value)


@pytest.mark.parametrize(("kwargs", "name"), [
    (dict(reg=0.0), "reg"),
    (dict(cost="l1"), "cost"),
    (dict(tol=-1.0), "tol"),
    (dict(max_iter=0), "max_iter"),
    (dict(init=np.ones(3)), "init"),
])
def test_bad_options(rng, kwargs, name):
    x, y, _, _ = clouds(rng, 4, 5)
    with pytest.raises(ValueError, match=f"^{name}:"):
        sinkhorn_points(x, y, **{"reg": 0.1, **kwargs})


def test_bad_arrays(rng):
    x, y, _, _ = clouds(rng, 4, 5)
    with pytest.raises(ValueError, match="^y:"):
        sinkhorn_points(x, y[:, :2], reg=0.1)
    with pytest.raises(ValueError, match="^b:"):
        sinkhorn_points(x, y, np.full(4, 0.25), np.ones(5), reg=0.1)
    x[1, 1] = np.inf
    with pytest.raises(ValueError, match="^x:"):
        sinkhorn_points(x, y, reg=0.1)
    assert "sinkhorn_points" in optkern.ot.__all__


def test_torch_value_gradients_match_dense_and_finite_differences(rng):
    torch = pytest.importorskip("torch")
    import optkern.torch

    x, y, a, b = clouds(rng, 7, 5)
    args = [torch.tensor(v, requires_grad=True) for v in (x, y, a, b)]
    value = optkern.torch.sinkhorn_points_value(*args, reg=0.3, tol=1e-14)
    grads = torch.autograd.grad(value, args)
    dense_args = [torch.tensor(v, requires_grad=True) for v in (x, y, a, b)]
    M = ((dense_args[0][:, None] - dense_args[1][None]) ** 2).sum(-1)
    dense = optkern.torch.sinkhorn_cost(M, dense_args[2], dense_args[3], reg=0.3, tol=1e-14)
    assert value.item() == pytest.approx(dense.item(), rel=1e-11)
    for g, d in zip(grads, torch.autograd.grad(dense, dense_args)):
        np.testing.assert_allclose(g.numpy(), d.numpy(), atol=1e-9)
    h = 1e-6
    direction = [rng.standard_normal(v.shape) for v in (x, y, a, b)]
    direction[2] -= direction[2].mean()
    direction[3] -= direction[3].mean()

    def f(sign):
        return optkern.torch.sinkhorn_points_value(
            *(torch.tensor(v + sign * h * d) for v, d in zip((x, y, a, b), direction)),
            reg=0.3, tol=1e-14).item()

    analytic = sum(float((g.numpy() * d).sum()) for g, d in zip(grads, direction))
    assert (f(1) - f(-1)) / (2 * h) == pytest.approx(analytic, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("cost", ["sqeuclidean", "euclidean"])
def test_grad_xy_matches_finite_differences(rng, cost):
    # a batch of two problems sharing y, one weight of x zero (its row carries no mass)
    x = rng.normal(size=(2, 6, 3))
    y = rng.normal(size=(5, 3))
    a = rng.random(6) + 0.1
    a[2] = 0.0

    def value(x, y):
        return sinkhorn_points(x, y, a, reg=0.3, cost=cost, tol=1e-14).value

    gx, gy = sinkhorn_points(x, y, a, reg=0.3, cost=cost, tol=1e-14).grad_xy()
    assert gx.shape == (2, 6, 3) and gy.shape == (2, 5, 3)
    h = 1e-6
    for k in range(2):
        dx, dy = rng.standard_normal(x.shape[1:]), rng.standard_normal(y.shape)
        xp, xm = x.copy(), x.copy()
        xp[k] += h * dx
        xm[k] -= h * dx
        fd = (value(xp, y)[k] - value(xm, y)[k]) / (2 * h)
        assert fd == pytest.approx(float((gx[k] * dx).sum()), rel=1e-6, abs=1e-9)
        fd = (value(x, y + h * dy)[k] - value(x, y - h * dy)[k]) / (2 * h)
        assert fd == pytest.approx(float((gy[k] * dy).sum()), rel=1e-6, abs=1e-9)


def test_grad_xy_matches_dense_envelope(rng):
    x, y, a, b = clouds(rng, 9, 7)
    res = sinkhorn_points(x, y, a, b, reg=0.2, cost="euclidean", tol=1e-13)
    P = res.plan()
    diff = x[:, None] - y[None]
    dist = np.linalg.norm(diff, axis=-1)
    unit = np.where(dist[..., None] > 0, diff / np.where(dist > 0, dist, 1)[..., None], 0)
    gx, gy = res.grad_xy()
    np.testing.assert_allclose(gx, (P[..., None] * unit).sum(1), atol=1e-12)
    np.testing.assert_allclose(gy, -(P[..., None] * unit).sum(0), atol=1e-12)
