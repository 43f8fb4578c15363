"""optkern.ot.sinkhorn on a CUDA device: against the CPU, NumPy round trips, CuPy / torch
arrays in place, batches, the cooperative (one large problem) path and small reg."""

import numpy as np
import pytest
from conftest import DEVICES
from gpu_arrays import gpu_libraries, to_gpu, to_host
from reference.sinkhorn import point_cloud_cost, sinkhorn_reference

import optkern
from optkern.ot import sinkhorn

pytestmark = pytest.mark.cuda


def tolerance(dtype):
    return DEVICES[dtype]


@pytest.mark.parametrize(("m", "n"), [(1, 1), (5, 4), (37, 70), (300, 200)])
@pytest.mark.parametrize("method", ["plain", "log", "auto"])
def test_numpy_round_trip_matches_the_cpu(dtype, m, n, method):
    M = point_cloud_cost(m, n, seed=m).astype(dtype)
    for reg in (0.1, 0.02):
        cpu = sinkhorn(M, reg=reg, method=method, tol=1e-10)
        gpu = sinkhorn(M, reg=reg, method=method, tol=1e-10, device="cuda")
        assert type(gpu.plan) is np.ndarray and gpu.plan.dtype == dtype
        assert gpu.converged and gpu.method == cpu.method
        np.testing.assert_allclose(gpu.plan, cpu.plan, rtol=DEVICES[dtype],
                                   atol=tolerance(dtype) / (m * n))
        np.testing.assert_allclose(gpu.f, cpu.f, atol=tolerance(dtype))
        assert gpu.value == pytest.approx(cpu.value, rel=1e-5, abs=1e-8)


def test_large_problem_uses_the_grid_and_matches_the_cpu(dtype):
    M = point_cloud_cost(1100, 1000, seed=1).astype(dtype)  # m n >= 2^20: the cooperative path
    for method, reg in (("plain", 0.05), ("log", 0.005)):
        cpu = sinkhorn(M, reg=reg, method=method, tol=1e-9)
        gpu = sinkhorn(M, reg=reg, method=method, tol=1e-9, device="cuda")
        assert gpu.converged and cpu.converged
        np.testing.assert_allclose(gpu.plan, cpu.plan, atol=DEVICES[dtype] / 10)  # entries <= 1


@pytest.mark.parametrize("lib", gpu_libraries())
def test_gpu_arrays_in_place(lib, dtype):
    M = point_cloud_cost(64, 48, seed=3).astype(dtype)
    a = np.full(64, 1 / 64, dtype)
    res = sinkhorn(to_gpu(M, lib), to_gpu(a, lib), reg=0.05, device="auto")
    assert type(res.plan).__module__.split(".")[0] == lib
    cpu = sinkhorn(M, a, reg=0.05)
    np.testing.assert_allclose(to_host(res.plan), cpu.plan, rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(to_host(res.g), cpu.g, atol=DEVICES[dtype])


@pytest.mark.parametrize("lib", gpu_libraries())
def test_batches_shared_cost_and_warm_start(lib):
    rng = np.random.default_rng(0)
    M = rng.random((20, 30))
    b = rng.random((50, 30)) + 0.1
    b /= b.sum(-1, keepdims=True)
    gpu = sinkhorn(to_gpu(M, lib), None, to_gpu(b, lib), reg=0.05, device="cuda")
    cpu = sinkhorn(M, None, b, reg=0.05)
    np.testing.assert_allclose(to_host(gpu.plan), cpu.plan, atol=1e-12)
    assert gpu.n_iter.shape == (50,) and gpu.converged.all()
    warm = sinkhorn(to_gpu(M, lib), None, to_gpu(b, lib), reg=0.05, device="cuda",
                    init=(None, gpu.g))
    assert (warm.n_iter <= 10).all()


def test_small_reg_is_finite_on_the_gpu(dtype):
    M = point_cloud_cost(200, 150, seed=5).astype(dtype)
    for method in ("auto", "plain", "log"):
        res = sinkhorn(M, reg=1e-4, method=method, max_iter=500, device="cuda")
        assert np.all(np.isfinite(res.plan)) and np.all(np.isfinite(res.f))


def test_zero_weights_on_the_gpu():
    rng = np.random.default_rng(1)
    M = rng.random((12, 9))
    a = rng.random(12)
    a[::3] = 0
    a /= a.sum()
    gpu = sinkhorn(M, a, reg=0.05, device="cuda", tol=1e-12)
    cpu = sinkhorn(M, a, reg=0.05, tol=1e-12)
    np.testing.assert_allclose(gpu.plan, cpu.plan, atol=1e-13)
    np.testing.assert_allclose(gpu.f, cpu.f, atol=1e-9)
    P_ref, *_ = sinkhorn_reference(M[a > 0], a[a > 0], np.full(9, 1 / 9), 0.05)
    np.testing.assert_allclose(gpu.plan[a > 0], P_ref, atol=1e-10)


def test_bad_input_on_the_gpu():
    with pytest.raises(ValueError, match="^a:"):
        sinkhorn(np.ones((3, 4)), -np.ones(3), reg=0.1, device="cuda")
    if "torch" in gpu_libraries():
        import torch

        M = torch.full((3, 4), float("nan"), device="cuda", dtype=torch.float64)
        with pytest.raises(ValueError, match="^M:"):
            sinkhorn(M, reg=0.1, device="cuda")
    assert optkern.cuda_available()


# --- near overflow (issue 13, items 5-6): converged implies finite on the device too --------


def _converged_outputs_are_finite(res):
    converged = np.asarray(res.converged)
    for name in ("plan", "f", "g", "cost", "value"):
        x = np.asarray(to_host(getattr(res, name)))
        finite = np.isfinite(x.reshape(converged.shape + (-1,))).all(-1)
        assert np.all(finite[converged]), f"{name}: not finite although converged"


@pytest.mark.parametrize("method", ["auto", "plain", "log"])
@pytest.mark.parametrize("lib", [None] + gpu_libraries())
def test_max_minus_min_of_M_overflows_on_the_gpu(method, lib):
    M = np.array([[1e308, -1e308]])  # max|M| / reg = 1e8: inside the documented range
    gpu_M = M if lib is None else to_gpu(M, lib)
    res = sinkhorn(gpu_M, reg=1e300, method=method, device="cuda")
    _converged_outputs_are_finite(res)
    np.testing.assert_allclose(to_host(res.plan), [[0.5, 0.5]], rtol=1e-6)
    cpu = sinkhorn(M, reg=1e300, method=method)
    np.testing.assert_allclose(to_host(res.f), cpu.f, rtol=1e-6)


@pytest.mark.parametrize("lib", [None] + gpu_libraries())
def test_potentials_representable_but_not_their_sum_on_the_gpu(lib):
    M = np.zeros((4, 5))
    res = sinkhorn(M if lib is None else to_gpu(M, lib), reg=1e307, device="cuda")
    assert res.converged
    _converged_outputs_are_finite(res)
    np.testing.assert_allclose(to_host(res.plan), np.full((4, 5), 0.05), rtol=1e-12)
    with pytest.raises(ValueError, match=r"^M, reg: .*representable"):
        sinkhorn(M, reg=1e308, device="cuda")
    with pytest.raises(ValueError, match=r"^M, reg: .*representable"):
        sinkhorn(M.astype(np.float32), reg=1e300, device="cuda")
