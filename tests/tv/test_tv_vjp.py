"""optkern.tv.denoise_vjp: central finite differences, the segment-averaging Jacobian (not the
identity the lecture notes claim), the gradient with respect to lam, shapes and bad input."""

import numpy as np
import pytest
from conftest import EXACT
from reference import tv as ref

from optkern.tv import denoise, denoise_vjp


def stable_problem(rng, n=24, lam=0.4):
    """A signal whose segment structure does not change under perturbations of 1e-6."""
    for _ in range(50):
        x = np.repeat(rng.standard_normal(4) * 2, n // 4) + 0.3 * rng.standard_normal(n)
        y = denoise(x, lam)
        segments = ref.segments(y)
        stable = True
        for i in range(n):
            for sign in (1, -1):
                xp = x.copy()
                xp[i] += sign * 1e-5
                if ref.segments(denoise(xp, lam)) != segments:
                    stable = False
        for dl in (1e-5, -1e-5):
            if ref.segments(denoise(x, lam + dl)) != segments:
                stable = False
        if stable and 1 < len(segments) < n:
            return x, lam, y
    raise AssertionError("no stable problem found")


def jacobian_fd(x, lam, h=1e-6):
    n = x.size
    jac = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = h
        jac[:, i] = (denoise(x + e, lam) - denoise(x - e, lam)) / (2 * h)
    return jac


def averaging_matrix(y):
    g = np.zeros((y.size, y.size))
    for a, b in ref.segments(y):
        g[a:b, a:b] = 1.0 / (b - a)
    return g


def test_jacobian_is_segment_averaging_not_identity(rng):
    x, lam, y = stable_problem(rng)
    jac = jacobian_fd(x, lam)
    np.testing.assert_allclose(jac, averaging_matrix(y), atol=1e-7)
    assert np.abs(jac - np.eye(x.size)).max() > 0.3  # the notes' pass-through is wrong here


def test_vjp_against_finite_differences(rng):
    x, lam, y = stable_problem(rng)
    g = rng.standard_normal(x.size)
    grad_x, grad_lam = denoise_vjp(y, g, lam)
    np.testing.assert_allclose(grad_x, jacobian_fd(x, lam).T @ g, atol=1e-7)
    h = 1e-6
    fd_lam = (g @ denoise(x, lam + h) - g @ denoise(x, lam - h)) / (2 * h)
    assert abs(grad_lam - fd_lam) <= 1e-7 * (1 + abs(fd_lam))


def test_matches_reference_and_averages(dtype, rng):
    x = np.cumsum(rng.standard_normal((5, 60)), axis=-1)
    lam = rng.uniform(0.5, 3.0, 5)
    y = denoise(x.astype(dtype), lam)
    g = rng.standard_normal((5, 60)).astype(dtype)
    grad_x, grad_lam = denoise_vjp(y, g, lam)
    assert grad_x.dtype == dtype
    assert grad_lam.dtype == dtype
    assert grad_lam.shape == (5,)
    for i in range(5):
        expected_x, expected_lam = ref.denoise_vjp(y[i], g[i], lam[i])
        tol = EXACT[dtype]
        np.testing.assert_allclose(grad_x[i], expected_x, atol=tol * 10)
        assert abs(grad_lam[i] - expected_lam) <= tol * 100
        for a, b in ref.segments(y[i]):  # constant on each segment, same total
            assert np.ptp(grad_x[i, a:b]) == 0
            assert abs(grad_x[i, a:b].sum() - g[i, a:b].astype(np.float64).sum()) <= tol * 100


def test_no_fusion_gives_identity_and_full_fusion_the_mean(rng):
    x = np.arange(10.0) * 3  # jumps of 3 > 2 lam: nothing fuses
    y = denoise(x, 1.0)
    g = rng.standard_normal(10)
    grad_x, grad_lam = denoise_vjp(y, g, 1.0)
    np.testing.assert_array_equal(grad_x, g)
    # y_0 = x_0 + lam, y_9 = x_9 - lam, the inner ones do not move with lam
    assert grad_lam == pytest.approx(g[0] - g[9])
    flat = denoise(x, 1e3)
    grad_x, grad_lam = denoise_vjp(flat, g, 1e3)
    np.testing.assert_allclose(grad_x, g.mean())
    assert grad_lam == 0


def test_grad_lam_takes_the_shape_of_lam(rng):
    x = rng.standard_normal((3, 4, 20))
    g = rng.standard_normal((3, 4, 20))
    per_signal = rng.uniform(0.2, 1.0, (3, 4))
    y = denoise(x, per_signal)
    _, full = denoise_vjp(y, g, per_signal)
    assert full.shape == (3, 4)
    _, rows = denoise_vjp(denoise(x, per_signal[:, :1]), g, per_signal[:, :1])
    assert rows.shape == (3, 1)
    _, keepdims = denoise_vjp(y, g, per_signal[..., None])
    np.testing.assert_allclose(keepdims[..., 0], full)
    y1 = denoise(x, 0.5)
    _, scalar = denoise_vjp(y1, g, 0.5)
    _, split = denoise_vjp(y1, g, np.full((3, 4), 0.5))
    assert np.ndim(scalar) == 0
    assert scalar == pytest.approx(split.sum())


def test_rtol_fuses_irls_iterates(rng):
    x = np.repeat(rng.standard_normal(5), 12) + 0.05 * rng.standard_normal(60)
    lam = 0.3
    exact = denoise(x, lam)
    approx = denoise(x, lam, method="irls", tol=1e-14, max_iter=20000)
    g = rng.standard_normal(60)
    want = denoise_vjp(exact, g, lam)
    loose = denoise_vjp(approx, g, lam, rtol=1e-5)
    np.testing.assert_allclose(loose[0], want[0], atol=1e-12)
    assert loose[1] == pytest.approx(want[1])
    strict = denoise_vjp(approx, g, lam)  # default rtol: IRLS neighbours never fuse exactly
    assert np.abs(strict[0] - want[0]).max() > 1e-3


def test_empty_and_single_sample():
    grad_x, grad_lam = denoise_vjp(np.empty((2, 0)), np.empty((2, 0)), 1.0)
    assert grad_x.shape == (2, 0)
    assert grad_lam == 0
    grad_x, grad_lam = denoise_vjp(np.array([3.0]), np.array([2.0]), 1.0)
    assert grad_x.tolist() == [2.0]
    assert grad_lam == 0


@pytest.mark.parametrize(
    ("y", "g", "lam", "kwargs", "match"),
    [
        (np.ones((2, 5)), np.ones((2, 4)), 1.0, {}, "^grad_y:"),
        (np.ones((2, 5)), np.ones((5,)), 1.0, {}, "^grad_y:"),
        (np.array([1.0, np.nan]), np.ones(2), 1.0, {}, "^y:"),
        (np.ones(2), np.array([np.inf, 1.0]), 1.0, {}, "^grad_y:"),
        (np.ones((2, 5)), np.ones((2, 5)), np.ones(3), {}, "^lam:"),
        (np.ones((2, 5)), np.ones((2, 5)), -1.0, {}, "^lam:"),
        (np.ones((2, 5)), np.ones((2, 5)), 1.0, {"rtol": -1e-3}, "^rtol:"),
        (np.ones((2, 5)), np.ones((2, 5)), 1.0, {"device": "gpu"}, "^device:"),
    ],
)
def test_bad_arguments(y, g, lam, kwargs, match):
    with pytest.raises(ValueError, match=match):
        denoise_vjp(y, g, lam, **kwargs)
