"""optkern.tv.denoise_2d (anisotropic and isotropic 2-D TV) against the NumPy references,
prox_tv's tv1_2d and scikit-image's denoise_tv_chambolle; the duality gap it reports; the
anisotropic backward by finite differences; bad input; the torch adapter."""

import numpy as np
import pytest
from conftest import EXACT
from reference import tv as ref

import optkern
from optkern.tv import denoise_2d, denoise_2d_vjp


def image(rng, h=14, w=11, noise=0.3):
    img = np.zeros((h, w))
    img[2:9, 3:8] = 1.0
    img[h // 2:, : w // 2] += 0.5
    return img + noise * rng.standard_normal((h, w))


@pytest.mark.parametrize("lam", [0.02, 0.2, 1.0])
def test_anisotropic_matches_dykstra_reference(rng, lam):
    x = image(rng)
    y = denoise_2d(x, lam, tol=1e-13, max_iter=5000)
    expected = ref.dykstra_2d(x, lam, 400)
    assert np.abs(y - expected).max() <= 1e-7
    assert ref.objective_2d(x, y, lam) <= ref.objective_2d(x, expected, lam) + 1e-10


@pytest.mark.parametrize("lam", [0.02, 0.2, 1.0])
def test_isotropic_matches_chambolle_reference(rng, lam):
    x = image(rng, 10, 9)
    info = denoise_2d(x, lam, isotropic=True, tol=1e-10, max_iter=200000, return_info=True)
    assert info.converged
    expected = ref.chambolle_2d(x, lam, 5000)
    p_ok, p_ref = ref.objective_2d(x, info.y, lam, True), ref.objective_2d(x, expected, lam, True)
    # the reference converges slowly: optkern's objective is at least as low, and close
    assert p_ok <= p_ref + 1e-10
    assert p_ref - p_ok <= 1e-4 * p_ref
    # (the reference's last digits at λ = 1 are still moving after 5000 iterations)
    assert np.abs(info.y - expected).max() <= (1e-4 if lam <= 0.2 else 5e-2)


@pytest.mark.parametrize("isotropic", [False, True])
def test_reported_gap_bounds_the_objective(rng, isotropic):
    x = image(rng)
    lam = 0.3
    best = denoise_2d(x, lam, isotropic=isotropic, tol=1e-11, max_iter=100000)
    p_best = ref.objective_2d(x, best, lam, isotropic)
    for tol in (1e-2, 1e-4, 1e-6):
        info = denoise_2d(x, lam, isotropic=isotropic, tol=tol, return_info=True,
                          max_iter=100000)
        assert info.converged and info.gap <= tol and info.nit >= 1
        p = ref.objective_2d(x, info.y, lam, isotropic)
        # gap = P(Y) − D(u) >= P(Y) − P*, relative to P(Y)
        assert p - p_best <= info.gap * p + 1e-11 * p
    short = denoise_2d(x, lam, isotropic=isotropic, tol=1e-14, max_iter=3, return_info=True)
    assert short.nit == 3 and not short.converged and short.gap > 1e-14


def test_against_prox_tv_tv1_2d(rng):
    prox_tv = pytest.importorskip("prox_tv")
    x = image(rng, 24, 20)
    for lam in (0.05, 0.3, 2.0):
        y = denoise_2d(x, lam, tol=1e-14, max_iter=10000)
        expected = prox_tv.tv1_2d(x, lam, method="dr", max_iters=5000)
        np.testing.assert_allclose(y, expected, rtol=0, atol=1e-8)


def test_isotropic_against_skimage(rng):
    restoration = pytest.importorskip("skimage.restoration")
    x = image(rng, 20, 16)
    for lam in (0.05, 0.3):
        y = denoise_2d(x, lam, isotropic=True, tol=1e-9, max_iter=100000)
        s = restoration.denoise_tv_chambolle(x, weight=lam, eps=1e-12, max_num_iter=5000)
        # the same model (skimage's weight is λ); compare objectives, skimage stops early
        p, p_s = ref.objective_2d(x, y, lam, True), ref.objective_2d(x, s, lam, True)
        assert p <= p_s + 1e-8 * p_s
        assert p_s - p <= 1e-4 * p_s


def test_batches_dtypes_and_per_image_lambda(rng, dtype):
    x = np.stack([[image(rng, 9, 8) for _ in range(3)] for _ in range(2)]).astype(dtype)
    lam = np.array([[0.1], [0.4]])
    for isotropic in (False, True):
        y = denoise_2d(x, lam, isotropic=isotropic, tol=1e-9, max_iter=50000)
        assert y.shape == x.shape and y.dtype == dtype
        for i in range(2):
            for j in range(3):
                one = denoise_2d(x[i, j].astype(np.float64), float(lam[i, 0]),
                                 isotropic=isotropic, tol=1e-9, max_iter=50000)
                atol = EXACT[dtype]
                np.testing.assert_allclose(y[i, j], one, atol=atol)


def test_edge_cases(rng):
    x = rng.standard_normal((5, 7))
    np.testing.assert_array_equal(denoise_2d(x, 0.0), x)
    np.testing.assert_array_equal(denoise_2d(np.full((4, 4), 2.5), 1.0), np.full((4, 4), 2.5))
    # one row or one column: the 1-D prox
    row = rng.standard_normal((1, 30))
    np.testing.assert_allclose(denoise_2d(row, 0.3, tol=1e-14), optkern.tv.denoise(row, 0.3),
                               atol=1e-12)
    col = rng.standard_normal((30, 1))
    np.testing.assert_allclose(denoise_2d(col, 0.3, tol=1e-14),
                               optkern.tv.denoise(col.T, 0.3).T, atol=1e-12)
    np.testing.assert_allclose(denoise_2d(col, 0.3, isotropic=True, tol=1e-13,
                                          max_iter=100000),
                               optkern.tv.denoise(col.T, 0.3).T, atol=1e-6)
    # a huge λ: the mean
    big = denoise_2d(x, 1e6, tol=1e-12)
    np.testing.assert_allclose(big, np.full_like(x, x.mean()), atol=1e-9)
    assert denoise_2d(np.zeros((0, 4)), 1.0).shape == (0, 4)
    assert denoise_2d(np.zeros((0, 3, 4)), 1.0).shape == (0, 3, 4)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"img": np.zeros(5)}, "img"),
    ({"img": np.array([[1.0, np.nan]])}, "img"),
    ({"img": np.array([[1.0, np.inf]])}, "img"),
    ({"lam": -1.0}, "lam"),
    ({"lam": np.nan}, "lam"),
    ({"lam": np.ones(3)}, "lam"),
    ({"tol": -1.0}, "tol"),
    ({"max_iter": 0}, "max_iter"),
])
def test_bad_arguments(kwargs, match):
    args = {"img": np.zeros((2, 4, 4)), "lam": 0.1}
    args.update(kwargs)
    img, lam = args.pop("img"), args.pop("lam")
    with pytest.raises(ValueError, match=match):
        denoise_2d(img, lam, **args)


def fused_image(rng):
    # blocks plus small noise: a few large flat regions, far from ties
    base = np.kron(rng.standard_normal((3, 3)), np.ones((3, 3)))
    return base + 0.05 * rng.standard_normal(base.shape)


def test_vjp_by_finite_differences(rng):
    x = fused_image(rng)
    lam = 0.08
    g = rng.standard_normal(x.shape)

    def loss(x, lam):
        return float((g * denoise_2d(x, lam, tol=1e-15, max_iter=20000)).sum())

    y = denoise_2d(x, lam, tol=1e-15, max_iter=20000)
    grad_x, grad_lam = denoise_2d_vjp(y, g, lam)
    h = 1e-6
    fd_x = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        fd_x[idx] = (loss(x + e, lam) - loss(x - e, lam)) / (2 * h)
    fd_lam = (loss(x, lam + h) - loss(x, lam - h)) / (2 * h)
    np.testing.assert_allclose(grad_x, fd_x, atol=1e-5)
    assert abs(grad_lam - fd_lam) <= 1e-5
    # the structure: grad_x is constant on each fused region and keeps the total
    assert abs(grad_x.sum() - g.sum()) <= 1e-10
    assert len(np.unique(np.round(grad_x, 9))) < x.size


def test_vjp_shapes_and_bad_input(rng):
    y = denoise_2d(rng.standard_normal((2, 5, 6)), 0.2, tol=1e-14)
    g = rng.standard_normal(y.shape)
    gx, gl = denoise_2d_vjp(y, g, np.array([0.2, 0.2]))
    assert gx.shape == y.shape and gl.shape == (2,)
    _, total = denoise_2d_vjp(y, g, 0.2)
    assert np.ndim(total) == 0 and abs(float(total) - gl.sum()) <= 1e-12
    with pytest.raises(ValueError, match="grad_y"):
        denoise_2d_vjp(y, g[..., :-1], 0.2)
    with pytest.raises(ValueError, match="rtol"):
        denoise_2d_vjp(y, g, 0.2, rtol=-1.0)


def test_torch_adapter(rng):
    torch = pytest.importorskip("torch")
    import optkern.torch

    x = torch.tensor(fused_image(rng), requires_grad=True)
    lam = torch.tensor(0.08, dtype=torch.float64, requires_grad=True)
    y = optkern.torch.tv_denoise_2d(x, lam, tol=1e-13)
    np.testing.assert_allclose(y.detach().numpy(),
                               denoise_2d(x.detach().numpy(), 0.08, tol=1e-13),
                               atol=0)
    g = torch.tensor(rng.standard_normal(x.shape))
    (y * g).sum().backward()
    gx, gl = denoise_2d_vjp(y.detach().numpy(), g.numpy(), 0.08)
    np.testing.assert_allclose(x.grad.numpy(), gx, atol=1e-14)
    assert abs(float(lam.grad) - float(gl)) <= 1e-12
    xi = torch.tensor(fused_image(rng), requires_grad=True)
    yi = optkern.torch.tv_denoise_2d(xi, 0.1, isotropic=True)
    with pytest.raises(RuntimeError, match="isotropic"):
        yi.sum().backward()
