"""optkern.tv and optkern.linalg.tridiagonal_solve on a CUDA device: NumPy round trips and
CuPy / torch arrays in place, against the CPU kernels and the optimality certificate."""

import numpy as np
import pytest
from conftest import ACCUMULATED, EPS, EXACT, ILL_CONDITIONED
from gpu_arrays import gpu_libraries, to_gpu, to_host
from reference import tv as ref

from optkern.linalg import tridiagonal_solve
from optkern.tv import _cuda as _tv_cuda
from optkern.tv import denoise, denoise_vjp, lambda_max

pytestmark = pytest.mark.cuda


def walks(rng, batch, n, dtype):
    return np.cumsum(rng.standard_normal((batch, n)), axis=-1).astype(dtype)


def assert_close(got, want, dtype, scale):
    assert np.abs(np.asarray(got, np.float64) - want).max(initial=0) <= 64 * EPS[dtype] * scale


@pytest.mark.parametrize("mapping", ["auto", "staged", "direct"])
@pytest.mark.parametrize("n", [1, 2, 7, 256, 383, 1000])
def test_exact_matches_cpu(dtype, rng, mapping, n):
    if mapping == "staged" and 32 * (n | 1) * np.dtype(dtype).itemsize > 160_000:
        pytest.skip("too long to stage on an A100 (163 KB of shared memory per block)")
    x = walks(rng, 70, n, dtype)
    lam = 0.1 * lambda_max(x.astype(np.float64)) + 1e-3
    y = _tv_cuda.denoise(x, lam, "exact", 1e-6, 1, False, mapping=mapping)
    assert y.dtype == dtype
    assert y.shape == x.shape
    assert_close(y, denoise(x.astype(np.float64), lam), dtype, np.abs(x).max() + lam.max())
    if dtype == np.float64:
        for xi, yi, li in zip(x, y, lam):
            bound, end, jumps = ref.certificate(xi, yi, li)
            scale = np.abs(xi).max() + li
            assert max(bound, end, jumps) <= 1e-12 * scale


def test_taut_string_fallback_on_the_device(dtype, rng):
    x = walks(rng, 40, 300, dtype)
    lam = 0.3 * lambda_max(x.astype(np.float64))
    forced = _tv_cuda.denoise(x, lam, "exact", 1e-6, 1, False, budget=0)  # every signal
    assert_close(forced, denoise(x.astype(np.float64), lam), dtype, np.abs(x).max() + lam.max())
    # a long random walk runs out of Condat's default budget (58 steps per sample)
    long = np.cumsum(np.random.default_rng(3).standard_normal(50_000))
    lam_long = 0.3 * float(lambda_max(long))
    assert_close(denoise(long, lam_long, device="cuda"), denoise(long, lam_long), np.float64,
                 np.abs(long).max() + lam_long)


def test_exact_edges(dtype, rng):
    x = rng.standard_normal((6, 40)).astype(dtype)
    np.testing.assert_array_equal(denoise(x, 0.0, device="cuda"), x)
    flat = denoise(x, 1e6, device="cuda")
    assert (np.diff(flat, axis=-1) == 0).all()
    np.testing.assert_allclose(flat[:, 0], x.astype(np.float64).mean(-1), atol=8 * EPS[dtype] * 4)
    constant = np.full((3, 17), 2.5, dtype)
    np.testing.assert_array_equal(denoise(constant, 1.0, device="cuda"), constant)
    assert denoise(np.empty((0, 5), dtype), 1.0, device="cuda").shape == (0, 5)
    assert denoise(np.empty((2, 0), dtype), 1.0, device="cuda").shape == (2, 0)


@pytest.mark.parametrize("mapping", ["staged", "direct"])
def test_huge_lambda_keeps_tiny_signals(mapping):
    # lam >> |x| gives the mean exactly, as on the CPU (x_k + lam once rounded x_k away)
    x = np.array([[1e-300, 3e-300], [-5e-310, 1e-309]])
    y = _tv_cuda.denoise(x, np.array([1.0, 1e300]), "exact", 1e-6, 1, False, mapping=mapping)
    np.testing.assert_allclose(y, denoise(x, np.array([1.0, 1e300])), rtol=1e-15)
    np.testing.assert_allclose(y[0], [2e-300] * 2)
    # and through the taut string fallback
    forced = _tv_cuda.denoise(x, np.array([1.0, 1e300]), "exact", 1e-6, 1, False, budget=0)
    np.testing.assert_array_equal(forced, y)


def test_irls_matches_cpu(rng):
    x = walks(rng, 33, 120, np.float64)
    lam = rng.uniform(0.5, 2.0, 33)
    gpu = denoise(x, lam, method="irls", tol=1e-7, max_iter=500, device="cuda", return_info=True)
    cpu = denoise(x, lam, method="irls", tol=1e-7, max_iter=500, return_info=True)
    np.testing.assert_array_equal(gpu.nit, cpu.nit)
    np.testing.assert_allclose(gpu.y, cpu.y, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gpu.change, cpu.change, rtol=1e-6)


@pytest.mark.parametrize("mapping", ["auto", "staged", "direct"])
def test_vjp_matches_cpu(dtype, rng, mapping):
    x = walks(rng, 50, 256, dtype)
    y = denoise(x, 2.0)
    g = rng.standard_normal(x.shape).astype(dtype)
    want = denoise_vjp(y, g, 2.0)
    got = _tv_cuda.denoise_vjp(y, g, 2.0, None, mapping=mapping)
    np.testing.assert_allclose(got[0], want[0], rtol=EXACT[dtype],
                               atol=EXACT[dtype])
    assert float(got[1]) == pytest.approx(float(want[1]), rel=1e-6)


def test_tridiagonal_matches_cpu(dtype, rng):
    shape = (300, 64)
    lower, upper, rhs = (rng.standard_normal(shape).astype(dtype) for _ in range(3))
    diag = (3 + np.abs(rng.standard_normal(shape))).astype(dtype)
    diag[::7] *= 1e-6  # some systems need pivoting
    got = tridiagonal_solve(lower, diag, upper, rhs, device="cuda")
    want = tridiagonal_solve(lower, diag, upper, rhs)
    np.testing.assert_allclose(got, want, rtol=ILL_CONDITIONED[dtype],
                               atol=ILL_CONDITIONED[dtype])
    with pytest.raises(np.linalg.LinAlgError, match="^diag:"):
        tridiagonal_solve(np.ones(3), np.ones(3), np.array([1.0, 0, 0]), np.ones(3),
                          device="cuda")


def test_long_systems_one_block_each(dtype, rng):
    # few long systems take the partition method, one block per system
    shape = (3, 20_000)
    lower, upper, rhs = (rng.standard_normal(shape).astype(dtype) for _ in range(3))
    diag = (3 + np.abs(rng.standard_normal(shape))).astype(dtype)
    got = tridiagonal_solve(lower, diag, upper, rhs, device="cuda")
    np.testing.assert_allclose(got, tridiagonal_solve(lower, diag, upper, rhs),
                               rtol=ACCUMULATED[dtype],
                               atol=ACCUMULATED[dtype])
    diag[1, 5000] = 1e-9  # unstable without pivoting: that block falls back
    got = tridiagonal_solve(lower, diag, upper, rhs, device="cuda")
    np.testing.assert_allclose(got, tridiagonal_solve(lower, diag, upper, rhs),
                               rtol=ILL_CONDITIONED[dtype],
                               atol=ILL_CONDITIONED[dtype])


def test_irls_long_signal_one_block(rng):
    x = np.cumsum(rng.standard_normal((2, 30_000)), axis=-1)
    gpu = denoise(x, 20.0, method="irls", tol=1e-300, max_iter=40, device="cuda",
                  return_info=True)
    cpu = denoise(x, 20.0, method="irls", tol=1e-300, max_iter=40, return_info=True)
    np.testing.assert_array_equal(gpu.nit, cpu.nit)
    np.testing.assert_allclose(gpu.y, cpu.y, rtol=1e-8, atol=1e-8 * np.abs(x).max())


@pytest.mark.parametrize("lib", gpu_libraries())
def test_gpu_arrays_in_place(lib, dtype, rng):
    x = walks(rng, 20, 100, dtype)
    lam = rng.uniform(0.5, 3.0, 20)
    dx, dlam = to_gpu(x, lib), to_gpu(lam, lib)
    with pytest.raises(ValueError, match="^x:"):
        denoise(dx, dlam)  # device="cpu" refuses GPU arrays rather than copy them
    y = denoise(dx, dlam, device="auto")
    assert type(y) is type(dx)
    assert_close(to_host(y), denoise(x.astype(np.float64), lam), dtype,
                 np.abs(x).max() + lam.max())
    y2 = denoise(dx, 1.0, device="auto")
    assert_close(to_host(y2), denoise(x.astype(np.float64), 1.0), dtype, np.abs(x).max() + 1)
    r = denoise(dx, dlam, method="irls", tol=1e-6, max_iter=200, device="cuda", return_info=True)
    assert type(r.y) is type(dx)
    assert tuple(r.nit.shape) == (20,)
    g = to_gpu(rng.standard_normal(x.shape).astype(dtype), lib)
    grad_x, grad_lam = denoise_vjp(y, g, dlam, device="cuda")
    want_x, want_lam = denoise_vjp(to_host(y), to_host(g), lam)
    np.testing.assert_allclose(to_host(grad_x), want_x, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_host(grad_lam), want_lam, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("lib", gpu_libraries())
def test_gpu_invalid_lambda_gives_nan_rows(lib, rng):
    x = to_gpu(rng.standard_normal((3, 10)), lib)
    lam = to_gpu(np.array([1.0, -1.0, np.nan]), lib)
    y = to_host(denoise(x, lam, device="cuda"))
    assert np.isfinite(y[0]).all()
    assert np.isnan(y[1:]).all()


@pytest.mark.parametrize("lib", gpu_libraries())
def test_gpu_tridiagonal_in_place(lib, rng):
    lower, upper, rhs = (rng.standard_normal((4, 16)) for _ in range(3))
    diag = 3 + np.abs(rng.standard_normal((4, 16)))
    got = tridiagonal_solve(*(to_gpu(a, lib) for a in (lower[:, 1:], diag, upper, rhs)))
    np.testing.assert_allclose(to_host(got), tridiagonal_solve(lower, diag, upper, rhs),
                               rtol=1e-12, atol=1e-12)
    singular = tridiagonal_solve(*(to_gpu(a, lib) for a in (np.ones(3), np.ones(3),
                                                            np.array([1.0, 0, 0]), np.ones(3))))
    assert np.isnan(to_host(singular)).all()
