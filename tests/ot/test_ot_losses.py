"""optkern.ot.sinkhorn2 and sinkhorn_divergence (NumPy, torch, JAX): against POT, GeomLoss and
the NumPy references, finite differences for every gradient, structure (S >= 0, S = 0 on
equal inputs) and bad input."""

import functools

import numpy as np
import pytest
from inputs import point_clouds
from reference.ot_losses import divergence_reference, sinkhorn2_reference

import optkern

ot_pot = pytest.importorskip("ot", minversion="0.9")


def problem(rng, m, n):
    M = rng.random((m, n))
    a = rng.random(m) + 0.2
    b = rng.random(n) + 0.2
    return M, a / a.sum(), b / b.sum()


clouds = functools.partial(point_clouds, d=2, shift=0.5)


# --- sinkhorn2 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("reg", [1.0, 0.1, 0.01])
def test_sinkhorn2_matches_pot_and_reference(rng, reg):
    M, a, b = problem(rng, 7, 5)
    value = optkern.ot.sinkhorn2(M, a, b, reg=reg, tol=1e-13)
    pot = ot_pot.sinkhorn2(a, b, M, reg, method="sinkhorn_log", stopThr=1e-13,
                           numItermax=100000)
    assert value == pytest.approx(float(pot), rel=1e-9)
    assert value == pytest.approx(sinkhorn2_reference(M, a, b, reg), rel=1e-9)


def test_sinkhorn2_is_the_cost_not_the_entropic_value(rng):
    M, a, b = problem(rng, 6, 4)
    res = optkern.ot.sinkhorn(M, a, b, reg=0.5)
    assert optkern.ot.sinkhorn2(M, a, b, reg=0.5) == res.cost
    assert res.cost != pytest.approx(optkern.ot.sinkhorn_cost(M, a, b, reg=0.5), rel=1e-3)


def test_sinkhorn2_batched_and_float32(rng):
    M = rng.random((3, 5, 4))
    values = optkern.ot.sinkhorn2(M, reg=0.1)
    assert values.shape == (3,)
    for k in range(3):
        assert values[k] == pytest.approx(optkern.ot.sinkhorn2(M[k], reg=0.1), rel=1e-12)
    v32 = optkern.ot.sinkhorn2(M.astype(np.float32), reg=0.1, tol=1e-6)
    assert np.allclose(v32, values, rtol=1e-5)


@pytest.mark.parametrize("reg", [0.5, 0.05])
def test_sinkhorn2_gradients_match_finite_differences(rng, reg):
    M, a, b = problem(rng, 5, 4)
    _, (gM, ga, gb) = optkern.ot.sinkhorn2(M, a, b, reg=reg, tol=1e-14, return_grad=True)

    def f(M, a, b):
        return optkern.ot.sinkhorn2(M, a, b, reg=reg, tol=1e-14, max_iter=10**6)

    h = 1e-6
    for i, j in [(0, 0), (2, 3), (4, 1)]:
        d = np.zeros_like(M)
        d[i, j] = h
        assert (f(M + d, a, b) - f(M - d, a, b)) / (2 * h) == pytest.approx(gM[i, j],
                                                                              abs=1e-7)
    # a and b moving together, mass kept (the meaningful directions)
    da = rng.standard_normal(5) * 1e-6
    db = rng.standard_normal(4) * 1e-6
    db += (da.sum() - db.sum()) / 4
    fd = (f(M, a + da, b + db) - f(M, a - da, b - db)) / 2
    assert fd == pytest.approx(ga @ da + gb @ db, abs=1e-12)


def test_sinkhorn2_gradient_is_not_the_envelope(rng):
    M, a, b = problem(rng, 5, 4)
    res = optkern.ot.sinkhorn(M, a, b, reg=0.1)
    _, (gM, _, _) = optkern.ot.sinkhorn2(M, a, b, reg=0.1, return_grad=True)
    assert np.abs(gM - res.plan).max() > 1e-3


def test_sinkhorn2_broadcast_gradient_shapes(rng):
    M = rng.random((5, 4))
    a = rng.random((3, 5)) + 0.1
    a /= a.sum(-1, keepdims=True)
    values, (gM, ga, gb) = optkern.ot.sinkhorn2(M, a, reg=0.2, return_grad=True)
    assert values.shape == (3,) and gM.shape == (5, 4) and ga.shape == (3, 5)
    assert gb.shape == (3, 4)  # the default b takes the mass of each a


def test_sinkhorn2_torch_and_jax_gradients(rng):
    torch = pytest.importorskip("torch")
    import optkern.torch  # noqa: F401
    M, a, b = problem(rng, 4, 3)
    Mt, at, bt = (torch.tensor(v, requires_grad=True) for v in (M, a, b))
    assert torch.autograd.gradcheck(
        lambda M, a, b: optkern.torch.sinkhorn2(M, a, b, reg=0.3, tol=1e-14),
        (Mt, at, bt), eps=1e-7, atol=1e-6)  # a, b alone within the 1e-6 mass check
    value = optkern.torch.sinkhorn2(Mt, at, bt, reg=0.3)
    value.backward()
    jax = pytest.importorskip("jax")
    import optkern.jax  # noqa: F401
    with jax.enable_x64(True):
        grads = jax.grad(lambda M, a, b: optkern.jax.sinkhorn2(M, a, b, reg=0.3),
                         argnums=(0, 1, 2))(M, a, b)
    for g, t in zip(grads, (Mt, at, bt)):
        np.testing.assert_allclose(np.asarray(g), t.grad.numpy(), atol=1e-8)


# --- sinkhorn_divergence ------------------------------------------------------------------------


@pytest.mark.parametrize("cost", ["sqeuclidean", "euclidean"])
@pytest.mark.parametrize("loss", ["entropic", "linear"])
@pytest.mark.parametrize("reg", [1.0, 0.1])
def test_divergence_matches_reference(rng, cost, loss, reg):
    x, y, a, b = clouds(rng, 9, 7)
    s = optkern.ot.sinkhorn_divergence(x, y, a, b, reg=reg, cost=cost, loss=loss, tol=1e-13)
    ref = max(divergence_reference(x, y, a, b, reg, cost, loss), 0.0)
    assert s == pytest.approx(ref, rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("reg", [1.0, 0.5])
def test_divergence_linear_matches_pot(rng, reg):
    x, y, a, b = clouds(rng, 12, 9)
    s = optkern.ot.sinkhorn_divergence(x, y, a, b, reg=reg, loss="linear", tol=1e-13)
    pot = ot_pot.bregman.empirical_sinkhorn_divergence(x, y, reg, a, b, stopThr=1e-13,
                                                       numIterMax=10**6)
    assert s == pytest.approx(float(pot), rel=1e-8)


@pytest.mark.parametrize(("p", "rtol"), [(2, 1e-5), (1, 2e-4)])
def test_divergence_matches_geomloss(rng, p, rtol):
    torch = pytest.importorskip("torch")
    import optkern.torch  # noqa: F401
    geomloss = pytest.importorskip("geomloss")
    x, y, a, b = clouds(rng, 15, 12)
    blur = 0.5
    loss = geomloss.SamplesLoss("sinkhorn", p=p, blur=blur, scaling=0.999, debias=True,
                                backend="tensorized")
    theirs = loss(*(torch.tensor(v) for v in (a, x, b, y))).item()
    if p == 2:  # GeomLoss: cost |x - y|^2 / 2, epsilon = blur^2
        ours = optkern.ot.sinkhorn_divergence(x, y, a, b, reg=2 * blur**2) / 2
    else:  # cost |x - y| (GeomLoss clamps |x - y|^2 at 1e-8: hence the looser tolerance)
        ours = optkern.ot.sinkhorn_divergence(x, y, a, b, reg=blur, cost="euclidean")
    assert ours == pytest.approx(theirs, rel=rtol)


@pytest.mark.parametrize("loss", ["entropic", "linear"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_divergence_is_exactly_zero_on_equal_inputs(rng, loss, dtype):
    x, _, a, _ = clouds(rng, 10, 3)
    x = x.astype(dtype)
    assert optkern.ot.sinkhorn_divergence(x, x, reg=0.05, loss=loss) == 0.0
    assert optkern.ot.sinkhorn_divergence(x, x.copy(), a, a, reg=0.05, loss=loss) == 0.0


def test_divergence_is_nonnegative(rng):
    for _ in range(10):
        x, y, a, b = clouds(rng, 6, 5, d=3)
        y = x[:5] + 1e-3 * rng.normal(size=(5, 3))
        s = optkern.ot.sinkhorn_divergence(x, y, a, b, reg=0.05)
        assert s >= 0


def test_divergence_batched(rng):
    x = rng.normal(size=(3, 8, 2))
    y = rng.normal(size=(6, 2))
    s = optkern.ot.sinkhorn_divergence(x, y, reg=0.2)
    assert s.shape == (3,)
    for k in range(3):
        assert s[k] == pytest.approx(optkern.ot.sinkhorn_divergence(x[k], y, reg=0.2),
                                     rel=1e-10)


@pytest.mark.parametrize("loss", ["entropic", "linear"])
@pytest.mark.parametrize("cost", ["sqeuclidean", "euclidean"])
def test_divergence_torch_gradients_match_finite_differences(rng, loss, cost):
    torch = pytest.importorskip("torch")
    import optkern.torch  # noqa: F401
    x, y, a, b = clouds(rng, 5, 4)
    args = [torch.tensor(v, requires_grad=True) for v in (x, y, a, b)]

    def f(x, y, a, b):
        return optkern.torch.sinkhorn_divergence(x, y, a, b, reg=0.3, cost=cost, loss=loss,
                                                 tol=1e-14)

    # x, y freely; a, b with their mass kept (the function rescales b to the mass of a)
    gx, gy, ga, gb = torch.autograd.grad(f(*args), args)
    h = 1e-6
    direction = [rng.standard_normal(v.shape) for v in (x, y, a, b)]
    direction[2] -= direction[2].mean()
    direction[3] -= direction[3].mean()
    up = f(*(torch.tensor(v + h * d) for v, d in zip((x, y, a, b), direction))).item()
    down = f(*(torch.tensor(v - h * d) for v, d in zip((x, y, a, b), direction))).item()
    analytic = sum(float((g.numpy() * d).sum()) for g, d in zip((gx, gy, ga, gb), direction))
    assert (up - down) / (2 * h) == pytest.approx(analytic, rel=1e-6, abs=1e-9)


def test_divergence_jax_matches_torch(rng):
    torch = pytest.importorskip("torch")
    import optkern.torch  # noqa: F401
    jax = pytest.importorskip("jax")
    import optkern.jax  # noqa: F401
    x, y, a, b = clouds(rng, 5, 4)
    args = [torch.tensor(v, requires_grad=True) for v in (x, y, a, b)]
    s = optkern.torch.sinkhorn_divergence(*args, reg=0.3)
    s.backward()
    with jax.enable_x64(True):
        sj, grads = jax.value_and_grad(
            lambda x, y, a, b: optkern.jax.sinkhorn_divergence(x, y, a, b, reg=0.3),
            argnums=(0, 1, 2, 3))(x, y, a, b)
        assert float(sj) == pytest.approx(s.item(), rel=1e-10)
        for g, t in zip(grads, args):
            np.testing.assert_allclose(np.asarray(g), t.grad.numpy(), atol=1e-9)
        assert float(optkern.jax.sinkhorn_divergence(x, x, reg=0.1)) == 0.0


def test_divergence_torch_zero_and_batched(rng):
    torch = pytest.importorskip("torch")
    import optkern.torch  # noqa: F401
    x = torch.tensor(rng.normal(size=(2, 6, 3)), requires_grad=True)
    s = optkern.torch.sinkhorn_divergence(x, x.detach().clone(), reg=0.1)
    assert s.shape == (2,) and (s == 0).all()
    s.sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize(("kwargs", "name"), [
    (dict(cost="cosine"), "cost"),
    (dict(loss="quadratic"), "loss"),
    (dict(reg=0.0), "reg"),
    (dict(reg=float("nan")), "reg"),
])
def test_divergence_bad_options(rng, kwargs, name):
    x, y, _, _ = clouds(rng, 4, 3)
    kwargs = {"reg": 0.1, **kwargs}
    with pytest.raises(ValueError, match=f"^{name}:"):
        optkern.ot.sinkhorn_divergence(x, y, **kwargs)


def test_divergence_bad_points(rng):
    x, y, _, _ = clouds(rng, 4, 3)
    with pytest.raises(ValueError, match="^y:"):
        optkern.ot.sinkhorn_divergence(x, y[:, :1], reg=0.1)
    x[0, 0] = np.nan
    with pytest.raises(ValueError, match="^x:"):
        optkern.ot.sinkhorn_divergence(x, y, reg=0.1)
    with pytest.raises(ValueError, match="^x:"):
        optkern.ot.sinkhorn_divergence(np.ones(3), y, reg=0.1)
    with pytest.raises(ValueError, match="^a:"):
        optkern.ot.sinkhorn_divergence(y, y, -np.ones(3), reg=0.1)


# --- large clouds: no cost matrix (sinkhorn_points) ---------------------------------------------


@pytest.fixture
def online(monkeypatch):
    """Every cloud counts as large: the three solves run on the fly."""
    from optkern.ot import _divergence

    monkeypatch.setattr(_divergence, "ONLINE_PAIRS", 1)


@pytest.mark.parametrize("cost", ["sqeuclidean", "euclidean"])
@pytest.mark.parametrize("loss", ["entropic", "linear"])
def test_divergence_online_matches_dense(rng, online, cost, loss):
    x, y, a, b = clouds(rng, 9, 7)
    online_value = optkern.ot.sinkhorn_divergence(x, y, a, b, reg=0.3, cost=cost, loss=loss,
                                                  tol=1e-12)
    want = divergence_reference(x, y, a, b, 0.3, cost, loss)
    assert online_value == pytest.approx(want, rel=1e-8)
    batched = optkern.ot.sinkhorn_divergence(np.stack([x, x + 1]), y, reg=0.3, cost=cost,
                                             loss=loss)
    assert batched.shape == (2,)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_divergence_online_is_exactly_zero_on_equal_inputs(rng, online, dtype):
    x, _, a, _ = clouds(rng, 10, 3)
    x = x.astype(dtype)
    assert optkern.ot.sinkhorn_divergence(x, x.copy(), a, a, reg=0.05) == 0.0


@pytest.mark.parametrize("cost", ["sqeuclidean", "euclidean"])
def test_divergence_torch_online_gradients_match_dense(rng, monkeypatch, cost):
    torch = pytest.importorskip("torch")
    import optkern.torch
    from optkern.ot import _divergence

    x, y, a, b = clouds(rng, 8, 6)

    def value_and_grads():
        args = [torch.tensor(v, requires_grad=True) for v in (x, y, a, b)]
        s = optkern.torch.sinkhorn_divergence(*args, reg=0.3, cost=cost, tol=1e-13)
        return s.item(), torch.autograd.grad(s, args)

    dense, dense_grads = value_and_grads()
    monkeypatch.setattr(_divergence, "ONLINE_PAIRS", 1)
    online_value, online_grads = value_and_grads()
    assert online_value == pytest.approx(dense, rel=1e-9)
    for g, d in zip(online_grads, dense_grads):
        np.testing.assert_allclose(g.numpy(), d.numpy(), atol=1e-9)


def test_divergence_jax_online_gradients_match_dense(rng, monkeypatch):
    jax = pytest.importorskip("jax")
    import optkern.jax
    from optkern.ot import _divergence

    x, y, a, b = clouds(rng, 8, 6)

    def value_and_grads():
        def s(x, y, a, b):
            return optkern.jax.sinkhorn_divergence(x, y, a, b, reg=0.3, tol=1e-13)
        with jax.enable_x64(True):
            value, grads = jax.value_and_grad(s, argnums=(0, 1, 2, 3))(x, y, a, b)
            return float(value), [np.asarray(g) for g in grads]

    dense, dense_grads = value_and_grads()
    monkeypatch.setattr(_divergence, "ONLINE_PAIRS", 1)
    online_value, online_grads = value_and_grads()
    assert online_value == pytest.approx(dense, rel=1e-9)
    for g, d in zip(online_grads, dense_grads):
        np.testing.assert_allclose(g, d, atol=1e-9)
