"""optkern.tv.denoise / denoise_vjp with one weight per edge on a CUDA device: NumPy round
trips and GPU arrays in place, against the CPU kernels and the weighted certificate."""

import numpy as np
import pytest
from conftest import EPS, EXACT
from gpu_arrays import gpu_libraries, to_gpu, to_host
from reference import tv as ref

from optkern.tv import denoise, denoise_vjp

pytestmark = pytest.mark.cuda


def problem(rng, batch, n, dtype):
    x = np.cumsum(rng.standard_normal((batch, n)), axis=-1).astype(dtype)
    w = rng.uniform(0, 1.5, (batch, n - 1))
    w[rng.random(w.shape) < 0.1] = 0.0
    return x, w


@pytest.mark.parametrize("n", [2, 7, 256, 1000])
def test_host_round_trip_matches_cpu(dtype, rng, n):
    x, w = problem(rng, 40, n, dtype)
    y = denoise(x, w, device="cuda")
    assert y.dtype == dtype and y.shape == x.shape
    expected = denoise(x.astype(np.float64), w)
    scale = np.abs(x).max() + w.max()
    assert np.abs(y.astype(np.float64) - expected).max() <= 64 * EPS[dtype] * scale
    if dtype == np.float64:
        for xi, yi, wi in zip(x, y, w):
            assert max(ref.certificate_weighted(xi, yi, wi)) <= 1e-12 * scale
    shared = w[:1]
    np.testing.assert_allclose(denoise(x, shared, device="cuda"),
                               denoise(x, shared), rtol=0, atol=64 * EPS[dtype] * scale)


def test_offset_and_irls_refusal(rng):
    x, w = problem(rng, 4, 5000, np.float64)
    c = 1e6
    back = denoise(x + c, w * 0.01, device="cuda") - c
    bound = 1.5 * EPS[np.float64] * (c + np.abs(x).max())
    assert np.abs(back - denoise(x, w * 0.01)).max() <= bound
    with pytest.raises(ValueError, match="method"):
        denoise(x, w, method="irls", device="cuda")


@pytest.mark.parametrize("lib", gpu_libraries())
def test_gpu_arrays_in_place(lib, dtype, rng):
    x, w = problem(rng, 16, 300, dtype)
    dx, dw = to_gpu(x, lib), to_gpu(w, lib)
    y = denoise(dx, dw, device="auto")
    assert type(y) is type(dx)
    expected = denoise(x.astype(np.float64), w)
    scale = np.abs(x).max() + w.max()
    assert np.abs(to_host(y).astype(np.float64) - expected).max() <= 64 * EPS[dtype] * scale
    # invalid weights on the device are not checked: the signal comes out as NaN
    bad = w.copy()
    bad[3, 5] = -1.0
    y_bad = to_host(denoise(dx, to_gpu(bad, lib), device="auto"))
    assert np.isnan(y_bad[3]).all() and np.isfinite(np.delete(y_bad, 3, axis=0)).all()
    g = rng.standard_normal(x.shape).astype(dtype)
    gx, gw = denoise_vjp(y, to_gpu(g, lib), dw, device="auto")
    ex, ew = denoise_vjp(to_host(y), g, w)
    tol = EXACT[dtype]
    np.testing.assert_allclose(to_host(gx), ex, rtol=tol, atol=tol)
    np.testing.assert_allclose(to_host(gw), ew, rtol=tol, atol=tol)
    # weights shared by all signals: grad summed over the batch
    shared = to_gpu(w[:1], lib)
    ys = denoise(dx, shared, device="auto")
    _, gws = denoise_vjp(ys, to_gpu(g, lib), shared, device="auto")
    _, ews = denoise_vjp(to_host(ys), g, w[:1])
    assert tuple(gws.shape) == (1, 299)
    np.testing.assert_allclose(to_host(gws), ews, rtol=tol, atol=10 * tol)
