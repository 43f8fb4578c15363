"""optkern.optimize.minimize_batch on a CUDA device: native problems, one per GPU thread,
against the CPU runs; NumPy round trips and CuPy / torch arrays in place."""

import numpy as np
import pytest
from conftest import ACCUMULATED, APPROXIMATE, EPS

from optkern.optimize import minimize_batch, problems

pytestmark = pytest.mark.cuda

CASES = [("rosenbrock", 8), ("extended_powell", 8), ("quadratic", 16), ("trigonometric", 10),
         ("broyden_tridiagonal", 12), ("discrete_boundary_value", 10),
         ("variably_dimensioned", 6), ("extended_rosenbrock", 4), ("rosenbrock_averaged", 5)]


def starts(p, batch, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (p.x0 + 0.5 * rng.standard_normal((batch, p.n))).astype(dtype)


@pytest.mark.parametrize(("name", "n"), CASES)
def test_gpu_batch_matches_the_cpu(name, n, dtype):
    p = problems.get(name, n)
    x0 = starts(p, 300, dtype)
    tight = dict(gtol=1e-8 if dtype == np.float64 else 1e-3, max_iter=5000, max_fev=10000)
    cpu = minimize_batch(p, x0, **tight)
    gpu = minimize_batch(p, x0, device="cuda", **tight)
    assert type(gpu.x) is np.ndarray and gpu.x.dtype == dtype and gpu.x.shape == x0.shape
    # the same algorithm (rounding differs: FMA contraction, summation order), so the
    # evaluation counts are alike, and both end at a minimiser
    assert np.median(np.abs(gpu.nfev - cpu.nfev) / cpu.nfev) <= 0.2
    both = cpu.success & gpu.success
    assert both.mean() > 0.9
    tol = 2 * APPROXIMATE[dtype]
    close = np.abs(gpu.fun - cpu.fun) <= tol * np.maximum(1, np.abs(cpu.fun))
    assert close[both].mean() > 0.95
    f_at_x, g_at_x = p(gpu.x)
    np.testing.assert_allclose(gpu.fun, f_at_x, rtol=ACCUMULATED[dtype],
                               atol=10 * EPS[dtype])
    assert np.all(gpu.nhev == 0)


def test_gpu_arrays_are_used_in_place_and_returned_as_their_kind():
    p = problems.rosenbrock(8)
    x0 = starts(p, 1000, np.float64)
    libraries = []
    try:
        import torch

        if torch.cuda.is_available():
            libraries.append(("torch", torch.as_tensor(x0, device="cuda")))
    except ImportError:
        pass
    try:
        import cupy

        libraries.append(("cupy", cupy.asarray(x0)))
    except ImportError:
        pass
    if not libraries:
        pytest.skip("neither torch with CUDA nor CuPy is installed")
    reference = minimize_batch(p, x0, device="cuda")
    for name, array in libraries:
        res = minimize_batch(p, array, device="auto")
        assert type(res.x) is type(array) and type(res.fun) is type(array), name
        x = res.x.cpu().numpy() if name == "torch" else res.x.get()
        np.testing.assert_array_equal(x, reference.x)
        np.testing.assert_array_equal(res.nfev, reference.nfev)


def test_gpu_batch_of_many_small_problems():
    p = problems.rosenbrock(8)
    x0 = starts(p, 20000, np.float64, seed=3)
    res = minimize_batch(p, x0, device="cuda")
    assert res.success.mean() > 0.99
    ok = res.success & (res.fun < 1e-8)
    np.testing.assert_allclose(res.x[ok], 1, atol=1e-3)


def test_gpu_bad_input():
    p = problems.rosenbrock(4)
    with pytest.raises(ValueError, match="^method:"):
        minimize_batch(p, np.ones((2, 4)), method="bfgs", device="cuda")
    with pytest.raises(ValueError, match="^fun:"):
        minimize_batch(lambda x: (x.sum(1), x), np.ones((2, 4)), device="cuda")
    with pytest.raises(ValueError, match="^x0:"):
        minimize_batch(p, np.ones((2, 5)), device="cuda")
    with pytest.raises(ValueError, match="^x0:"):
        minimize_batch(p, np.full((2, 4), np.nan), device="cuda")
    # options float32 cannot hold are refused by name, as on the CPU
    with pytest.raises(ValueError, match="^c1: expected a value float32 can hold"):
        minimize_batch(p, np.ones((2, 4), np.float32), c1=1e-300, device="cuda")
    empty = minimize_batch(p, np.zeros((0, 4)), device="cuda")
    assert len(empty) == 0
