"""optkern.tv.denoise with one weight per edge (lam of shape (..., n − 1)): exact and IRLS
against the NumPy reference, the certificate and prox_tv's tv1w_1d; the backward against the
reference and finite differences; shapes, bad input and the torch / JAX adapters."""

import numpy as np
import pytest
from conftest import APPROXIMATE, EPS, EXACT
from inputs import signal
from reference import tv as ref

from optkern.tv import denoise, denoise_vjp


def weights(rng, n, scale, zeros=True):
    w = scale * rng.uniform(0, 2, n - 1)
    if zeros:
        w[rng.random(n - 1) < 0.15] = 0.0  # free edges
    return w


@pytest.mark.parametrize("kind", ["noise", "walk", "blocks", "ties"])
@pytest.mark.parametrize("scale", [0.01, 0.3, 3.0, 100.0])
def test_exact_matches_reference_and_certificate(dtype, rng, kind, scale):
    n = 60
    x = np.stack([signal(rng, n, kind) for _ in range(5)]).astype(dtype)
    w = np.stack([weights(rng, n, scale) for _ in range(5)])
    y = denoise(x, w)
    assert y.dtype == dtype and y.shape == x.shape
    tol = 64 * EPS[dtype] * (np.abs(x).max() + 1)
    for xi, wi, yi in zip(x, w, y):
        expected = ref.taut_string_weighted(xi, wi)
        assert np.abs(yi - expected).max() <= tol
        if dtype == np.float64:
            bound, end, at_jumps = ref.certificate_weighted(xi, yi, wi)
            assert max(bound, end, at_jumps) <= 1e-12 * (np.abs(xi).max() + wi.max())


def test_constant_weights_equal_the_scalar_lambda(rng):
    x = np.cumsum(rng.standard_normal((3, 200)), axis=-1)
    for lam in (0.05, 1.0, 30.0):
        np.testing.assert_array_equal(denoise(x, np.full(199, lam)), denoise(x, lam))


def test_zero_and_huge_weights(rng):
    x = rng.standard_normal((2, 40))
    np.testing.assert_array_equal(denoise(x, np.zeros(39)), x)
    y = denoise(x, np.full(39, 1e300))
    np.testing.assert_allclose(y, np.broadcast_to(x.mean(-1, keepdims=True), x.shape),
                               atol=1e-14)
    # a zero weight cuts the signal in two independent halves
    w = np.full(39, 1e3)
    w[19] = 0.0
    y = denoise(x, w)
    np.testing.assert_allclose(y[:, :20], np.broadcast_to(x[:, :20].mean(-1, keepdims=True),
                                                          (2, 20)), atol=1e-14)
    np.testing.assert_allclose(y[:, 20:], np.broadcast_to(x[:, 20:].mean(-1, keepdims=True),
                                                          (2, 20)), atol=1e-14)


def test_offset_robustness_with_weights(rng):
    n = 5000
    x = np.cumsum(rng.standard_normal(n)) + rng.standard_normal(n)
    w = rng.uniform(0, 0.2, n - 1)
    c = 1e6
    back = denoise(x + c, w) - c
    assert np.abs(back - denoise(x, w)).max() <= 1.5 * EPS[np.float64] * (c + np.abs(x).max())


def test_against_prox_tv():
    prox_tv = pytest.importorskip("prox_tv")
    rng = np.random.default_rng(7)
    for kind in ("noise", "walk", "blocks"):
        x = signal(rng, 3000, kind)
        for scale in (0.05, 1.0, 20.0):
            w = weights(rng, 3000, scale)
            np.testing.assert_allclose(denoise(x, w), prox_tv.tv1w_1d(x, w), rtol=0,
                                       atol=1e-10 * (1 + np.abs(x).max()))


@pytest.mark.parametrize("kind", ["noise", "walk", "blocks", "ties"])
@pytest.mark.parametrize("scale", [0.003, 0.1, 1.0, 10.0])
def test_long_signals_with_zero_and_huge_weights(dtype, rng, kind, scale):
    # Long enough that the exact solver takes each of its paths (Condat's walk at small
    # weights, its fallback to the taut string once it rescans too much, the taut string at
    # once for large weights): against the reference, and against prox_tv where no weight is
    # huge (its tv1w_1d loses accuracy from 1e8 on).
    n = 3000
    x = signal(rng, n, kind).astype(dtype)
    w = weights(rng, n, scale)
    huge = w.copy()
    huge[rng.random(n - 1) < 0.05] = 1e300  # never active: each is capped
    scale_x = np.abs(x).max() + 1.0
    # the result's own rounding, and the reference's: its running sums drift by up to n ulps
    tol = 4 * EPS[dtype] * scale_x
    for wi in (w, huge):
        y = denoise(x, wi)
        assert y.dtype == dtype
        expected = ref.taut_string_weighted(x.astype(np.float64), wi)
        assert np.abs(y - expected).max() <= tol + n * EPS[np.float64] * scale_x
    prox_tv = pytest.importorskip("prox_tv")
    assert np.abs(denoise(x, w) - prox_tv.tv1w_1d(x.astype(np.float64), w)).max() <= tol


@pytest.mark.parametrize("kind", ["noise", "walk", "blocks"])
def test_certificate_at_small_weights(rng, kind):
    # Many short segments: z = cumsum(x − y) stays within [−w_k, w_k] and equals ±w_k at
    # each jump, also with an offset of 1e6 (whose rounding the running sum z adds up).
    n = 20_000
    x = signal(rng, n, kind)
    step = np.abs(np.diff(x)).mean()
    for scale in (0.003, 0.03, 0.3):
        w = weights(rng, n, scale * step)
        y = denoise(x, w)
        assert (y[:-1] != y[1:]).sum() > n // 100
        bound, end, at_jumps = ref.certificate_weighted(x, y, w)
        assert max(bound, end, at_jumps) <= 1e-9 * w.max() + n * EPS[np.float64] * np.abs(x).max()
        c = 1e6
        yc = denoise(x + c, w)
        z = np.cumsum((x + c) - yc)[:-1]
        slack = np.arange(1, n) * np.spacing(c) + 1e-9 * w.max()
        assert (np.abs(z) <= w + slack).all()
        jumps = yc[:-1] != yc[1:]
        sign = np.sign(yc[:-1] - yc[1:])
        assert (np.abs(z - w * sign)[jumps] <= slack[jumps]).all()


def test_shapes_and_broadcasting(rng):
    x = rng.standard_normal((3, 4, 9))
    w_full = rng.uniform(0, 1, (3, 4, 8))
    y = denoise(x, w_full)
    for i in range(3):
        for j in range(4):
            np.testing.assert_allclose(y[i, j], ref.taut_string_weighted(x[i, j], w_full[i, j]),
                                       atol=1e-13)
    shared = rng.uniform(0, 1, (1, 1, 8))
    np.testing.assert_array_equal(denoise(x, shared), denoise(x, np.broadcast_to(shared,
                                                                              (3, 4, 8))))
    per_row = rng.uniform(0, 1, (3, 1, 8))
    np.testing.assert_array_equal(denoise(x, per_row), denoise(x, np.broadcast_to(per_row,
                                                                               (3, 4, 8))))
    single = rng.standard_normal(9)
    np.testing.assert_allclose(denoise(single, shared[0, 0]),
                               ref.taut_string_weighted(single, shared[0, 0]), atol=1e-13)
    # n = 2: one edge, so one weight per edge is one value per signal
    pair = rng.standard_normal((5, 2))
    lam = rng.uniform(0, 1, (5, 1))
    np.testing.assert_array_equal(denoise(pair, lam), denoise(pair, lam[:, 0]))


def test_ambiguous_and_bad_shapes_are_rejected(rng):
    x = rng.standard_normal((4, 5))  # batch (4,), n - 1 = 4: lam of shape (4,) fits both
    with pytest.raises(ValueError, match="lam.*reads one way only"):
        denoise(x, np.ones(4))
    with pytest.raises(ValueError, match="lam.*reads one way only"):
        denoise_vjp(x, x, np.ones(4))
    # the two ways to say which
    np.testing.assert_array_equal(denoise(x, np.full((4, 1), 0.5)), denoise(x, 0.5))
    np.testing.assert_array_equal(denoise(x, np.full((1, 4), 0.5)), denoise(x, 0.5))
    with pytest.raises(ValueError, match="lam"):
        denoise(x, np.ones((4, 3)))  # neither one per signal nor one per edge
    with pytest.raises(ValueError, match="lam"):
        denoise(rng.standard_normal((3, 6)), np.ones((2, 5)))  # leading axes do not fit


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("shape", [(7,), (2, 7)])
def test_non_finite_signals_with_weights(rng, dtype, bad, shape):
    # one signal goes straight to the kernel, which checks x as it solves; a batch is checked
    # first: the same ValueError either way
    x = rng.standard_normal(shape).astype(dtype)
    x[..., 4] = bad
    with pytest.raises(ValueError, match="x: expected finite values"):
        denoise(x, rng.uniform(0, 1, 6))


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
def test_bad_weight_values(rng, bad):
    x = rng.standard_normal((2, 6))
    w = np.ones(5)
    w[2] = bad
    with pytest.raises(ValueError, match="lam"):
        denoise(x, w)
    with pytest.raises(ValueError, match="lam"):
        denoise(x[0], w)  # one signal: the kernel's check
    with pytest.raises(ValueError, match="lam"):
        denoise(x, w, method="irls")


def test_irls_with_weights_approaches_the_exact_solution(rng, dtype):
    x = np.cumsum(rng.standard_normal((3, 50)), axis=-1).astype(dtype)
    w = np.stack([weights(rng, 50, 1.0) for _ in range(3)])
    info = denoise(x, w, method="irls", tol=1e-10, max_iter=20000, return_info=True)
    assert info.y.dtype == dtype
    exact = denoise(x.astype(np.float64), w)
    tol = APPROXIMATE[dtype]
    assert np.abs(info.y - exact).max() <= tol * (1 + np.abs(x).max())
    assert (ref.objective_weighted(x, info.y, w) - ref.objective_weighted(x, exact, w)
            <= 1e-5 * (1 + ref.objective_weighted(x, exact, w))).all()


def test_vjp_matches_reference(rng, dtype):
    x = np.stack([signal(rng, 40, k) for k in ("noise", "walk", "blocks")]).astype(dtype)
    w = np.stack([weights(rng, 40, 0.5) for _ in range(3)])
    y = denoise(x, w)
    g = rng.standard_normal(x.shape).astype(dtype)
    grad_x, grad_w = denoise_vjp(y, g, w)
    assert grad_x.dtype == dtype and grad_w.shape == w.shape
    for i in range(3):
        ex, ew = ref.denoise_vjp_weighted(y[i], g[i], w[i])
        np.testing.assert_allclose(grad_x[i], ex, rtol=EXACT[dtype],
                                   atol=EXACT[dtype])
        np.testing.assert_allclose(grad_w[i], ew, rtol=EXACT[dtype],
                                   atol=EXACT[dtype])


def test_vjp_by_finite_differences(rng):
    n = 30
    x = np.repeat(rng.standard_normal(6), 5) + 0.3 * rng.standard_normal(n)
    w = rng.uniform(0.05, 0.6, n - 1)
    g = rng.standard_normal(n)
    loss = lambda x, w: float(g @ denoise(x, w))  # noqa: E731
    grad_x, grad_w = denoise_vjp(denoise(x, w), g, w)
    h = 1e-7
    fd_x = np.array([(loss(x + h * e, w) - loss(x - h * e, w)) / (2 * h) for e in np.eye(n)])
    fd_w = np.array([(loss(x, w + h * e) - loss(x, w - h * e)) / (2 * h)
                     for e in np.eye(n - 1)])
    np.testing.assert_allclose(grad_x, fd_x, atol=1e-6)
    np.testing.assert_allclose(grad_w, fd_w, atol=1e-6)
    assert np.abs(grad_w).max() > 0.01  # the weights do matter here


def test_vjp_sums_over_broadcast_weights(rng):
    x = rng.standard_normal((3, 12))
    w = rng.uniform(0.1, 0.5, (1, 11))
    y = denoise(x, w)
    g = rng.standard_normal(x.shape)
    _, grad_w = denoise_vjp(y, g, w)
    _, full = denoise_vjp(y, g, np.broadcast_to(w, (3, 11)).copy())
    assert grad_w.shape == (1, 11)
    np.testing.assert_allclose(grad_w[0], full.sum(0), atol=1e-13)


def test_torch_adapter_with_weights(rng):
    torch = pytest.importorskip("torch")
    import optkern.torch

    x = torch.tensor(rng.standard_normal((2, 15)), requires_grad=True)
    w = torch.tensor(rng.uniform(0.05, 0.5, (1, 14)), requires_grad=True)
    y = optkern.torch.tv_denoise(x, w)
    np.testing.assert_array_equal(y.detach().numpy(), denoise(x.detach().numpy(),
                                                              w.detach().numpy()))
    g = torch.tensor(rng.standard_normal((2, 15)))
    (y * g).sum().backward()
    gx, gw = denoise_vjp(y.detach().numpy(), g.numpy(), w.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), gx, atol=1e-14)
    np.testing.assert_allclose(w.grad.numpy(), gw, atol=1e-14)
    assert torch.autograd.gradcheck(lambda w: optkern.torch.tv_denoise(x.detach(), w), (w,),
                                    eps=1e-7, atol=1e-6)


def test_jax_adapter_with_weights(rng):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    import optkern.jax

    x = rng.standard_normal((2, 15)).astype(np.float32)
    w = rng.uniform(0.05, 0.5, 14).astype(np.float32)
    g = rng.standard_normal((2, 15)).astype(np.float32)
    y = optkern.jax.tv_denoise(jnp.asarray(x), jnp.asarray(w))
    np.testing.assert_array_equal(np.asarray(y), denoise(x, w))
    gx, gw = jax.grad(lambda x, w: jnp.sum(optkern.jax.tv_denoise(x, w) * g),
                      argnums=(0, 1))(jnp.asarray(x), jnp.asarray(w))
    ex, ew = denoise_vjp(denoise(x, w), g, w)
    np.testing.assert_allclose(np.asarray(gx), ex, atol=1e-6)
    np.testing.assert_allclose(np.asarray(gw), ew, atol=1e-5)
