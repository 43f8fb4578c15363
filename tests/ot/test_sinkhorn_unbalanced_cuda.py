"""optkern.ot.sinkhorn_unbalanced on a CUDA device: against the CPU path (plan, f, g, cost,
value, n_iter) for both dtypes, reg_m scalar and pairs, both reg types, batches, zero weights,
small reg, CuPy / torch arrays in place, and bad input."""

import dataclasses
import math

import numpy as np
import pytest
from conftest import DEVICES
from gpu_arrays import gpu_libraries, to_gpu, to_host
from reference.sinkhorn import point_cloud_cost

import optkern
from optkern.ot import sinkhorn_unbalanced

pytestmark = pytest.mark.cuda

REG_MS = [1.0, (0.3, 2.0), (math.inf, 0.5), (0.7, math.inf)]


def weights(rng, size, mass, dtype, zeros=()):
    w = rng.random(size) + 0.1
    w[list(zeros)] = 0
    return (w * (mass / w.sum())).astype(dtype)


def assert_same(gpu, cpu, dtype):
    """The CUDA result against the CPU's, to the tolerance of one computation on two paths."""
    tol = DEVICES[dtype]
    for name in ("plan", "f", "g"):
        got, want = getattr(gpu, name), getattr(cpu, name)
        assert type(got) is np.ndarray and got.dtype == dtype and got.shape == want.shape
        scale = max(1.0, float(np.max(np.abs(want), initial=0)))
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale, err_msg=name)
    np.testing.assert_array_equal(gpu.n_iter, cpu.n_iter)
    np.testing.assert_array_equal(gpu.converged, cpu.converged)
    np.testing.assert_allclose(gpu.cost, cpu.cost, rtol=tol, atol=tol * 1e-3)
    np.testing.assert_allclose(gpu.value, cpu.value, rtol=tol, atol=tol * 1e-3)
    assert np.all(np.asarray(gpu.method) == "log")


@pytest.mark.parametrize(("m", "n"), [(1, 1), (5, 4), (37, 70), (300, 200)])
@pytest.mark.parametrize("reg_m", REG_MS)
@pytest.mark.parametrize("reg_type", ["kl", "entropy"])
def test_numpy_round_trip_matches_the_cpu(dtype, m, n, reg_m, reg_type):
    rng = np.random.default_rng(m + n)
    M = point_cloud_cost(m, n, seed=m).astype(dtype)
    a, b = weights(rng, m, 1.0, dtype), weights(rng, n, 2.5, dtype)  # unequal masses
    for reg in (0.1, 0.02):
        kw = dict(reg=reg, reg_m=reg_m, reg_type=reg_type, tol=1e-10, max_iter=20000)
        cpu = sinkhorn_unbalanced(M, a, b, method="log", **kw)
        gpu = sinkhorn_unbalanced(M, a, b, device="cuda", **kw)
        assert gpu.converged
        assert_same(gpu, cpu, dtype)


def test_every_method_runs_the_log_domain_with_the_cpus_iterates(dtype):
    # The CPU's "auto" and "plain" run the kernel domain here: the same iterates as the log
    # domain, so the same result and iteration count.
    M = point_cloud_cost(40, 30, seed=2).astype(dtype)
    for method in ("auto", "plain", "log"):
        cpu = sinkhorn_unbalanced(M, reg=0.1, reg_m=(1.0, 0.5), method=method, tol=1e-10)
        gpu = sinkhorn_unbalanced(M, reg=0.1, reg_m=(1.0, 0.5), method=method, tol=1e-10,
                                  device="cuda")
        assert gpu.method == "log"
        assert cpu.method == ("log" if method == "log" else "plain")
        assert_same(gpu, cpu, dtype)


def test_batches_broadcast_and_shared_operands(dtype):
    rng = np.random.default_rng(3)
    M = np.stack([point_cloud_cost(20, 30, seed=s) for s in range(4)])[:, None].astype(dtype)
    a = weights(rng, 20, 1.0, dtype)  # shared
    b = np.stack([weights(rng, 30, mass, dtype) for mass in (0.5, 1.0, 3.0)])  # (3, 30)
    kw = dict(reg=0.05, reg_m=(0.5, 2.0), tol=1e-10)
    cpu = sinkhorn_unbalanced(M, a, b, method="log", **kw)
    gpu = sinkhorn_unbalanced(M, a, b, device="cuda", **kw)
    assert gpu.plan.shape == (4, 3, 20, 30) and gpu.n_iter.shape == (4, 3)
    assert gpu.converged.all()
    assert_same(gpu, cpu, dtype)
    empty = sinkhorn_unbalanced(np.zeros((0, 3, 4), dtype), reg=0.1, reg_m=1.0, device="cuda")
    assert empty.plan.shape == (0, 3, 4) and empty.n_iter.shape == (0,)


@pytest.mark.parametrize("reg_type", ["kl", "entropy"])
def test_zero_weights(dtype, reg_type):
    rng = np.random.default_rng(4)
    M = point_cloud_cost(15, 12, seed=4).astype(dtype)
    a = weights(rng, 15, 1.0, dtype, zeros=(0, 7, 14))
    b = weights(rng, 12, 1.5, dtype, zeros=(3,))
    kw = dict(reg=0.05, reg_m=0.8, reg_type=reg_type, tol=1e-11)
    cpu = sinkhorn_unbalanced(M, a, b, method="log", **kw)
    gpu = sinkhorn_unbalanced(M, a, b, device="cuda", **kw)
    assert_same(gpu, cpu, dtype)
    assert np.all(gpu.plan[a == 0] == 0) and np.all(gpu.plan[:, b == 0] == 0)
    assert np.all(gpu.f[a == 0] == 0) and np.all(gpu.g[b == 0] == 0)


def test_small_reg_is_finite_and_matches_the_cpu(dtype):
    # reg = 1e-4 of the largest cost: the kernel domain would underflow; the log domain
    # neither overflows nor turns NaN.
    M = point_cloud_cost(120, 90, seed=5).astype(dtype)
    kw = dict(reg=1e-4, reg_m=(1.0, 0.3), max_iter=300, tol=1e-9)
    gpu = sinkhorn_unbalanced(M, device="cuda", **kw)
    cpu = sinkhorn_unbalanced(M, method="log", **kw)
    assert np.all(np.isfinite(gpu.plan)) and np.all(np.isfinite(gpu.f))
    assert np.all(np.isfinite(gpu.g)) and np.isfinite(gpu.value)
    assert_same(gpu, cpu, dtype)


@pytest.mark.parametrize("lib", gpu_libraries())
def test_gpu_arrays_in_place(lib, dtype):
    rng = np.random.default_rng(6)
    M = point_cloud_cost(64, 48, seed=6).astype(dtype)
    a, b = weights(rng, 64, 1.0, dtype), weights(rng, 48, 0.7, dtype, zeros=(5,))
    kw = dict(reg=0.05, reg_m=(2.0, 0.5), tol=1e-10)
    res = sinkhorn_unbalanced(to_gpu(M, lib), to_gpu(a, lib), to_gpu(b, lib), device="auto",
                              **kw)
    for field in ("plan", "f", "g"):
        assert type(getattr(res, field)).__module__.split(".")[0] == lib
    cpu = sinkhorn_unbalanced(M, a, b, method="log", **kw)
    host = dataclasses.replace(res, **{k: to_host(getattr(res, k)) for k in ("plan", "f", "g")})
    assert_same(host, cpu, dtype)
    # a host a beside a GPU M is copied to M's device; the default b is uniform
    res = sinkhorn_unbalanced(to_gpu(M, lib), a, reg=0.05, reg_m=1.0, device="cuda")
    cpu = sinkhorn_unbalanced(M, a, reg=0.05, reg_m=1.0, method="log")
    np.testing.assert_allclose(to_host(res.plan), cpu.plan, rtol=DEVICES[dtype],
                               atol=DEVICES[dtype])


def test_bad_input_on_the_gpu():
    with pytest.raises(ValueError, match="^a:"):
        sinkhorn_unbalanced(np.ones((3, 4)), -np.ones(3), reg=0.1, reg_m=1.0, device="cuda")
    for lib in gpu_libraries():
        M = np.ones((3, 4))
        M[1, 2] = np.nan
        with pytest.raises(ValueError, match="^M:"):
            sinkhorn_unbalanced(to_gpu(M, lib), reg=0.1, reg_m=1.0, device="cuda")
        with pytest.raises(ValueError, match="^b:"):
            sinkhorn_unbalanced(to_gpu(np.ones((3, 4)), lib), None, to_gpu(np.zeros(4), lib),
                                reg=0.1, reg_m=1.0)
        with pytest.raises(ValueError, match="^M:"):
            sinkhorn_unbalanced(to_gpu(np.ones((3, 4)), lib), reg=0.1, reg_m=1.0, device="cpu")
    assert optkern.cuda_available()
