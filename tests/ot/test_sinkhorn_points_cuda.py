"""optkern.ot.sinkhorn_points on a CUDA device: against the CPU path (f, g, cost, value,
n_iter, converged, marginal_error) for both dtypes and costs, dimensions with and without
their own kernel (d <= 3, larger, and a d whose shared tile holds few points), clouds spanning
many row blocks and tiles, batches, zero weights, warm starts, large masses, CuPy / torch
arrays in place, and bad input."""

import dataclasses

import numpy as np
import pytest
from conftest import DEVICES
from gpu_arrays import gpu_libraries, to_gpu, to_host
from inputs import point_clouds

import optkern
from optkern.ot import sinkhorn_points

pytestmark = pytest.mark.cuda

COSTS = ["sqeuclidean", "euclidean"]


def cast(dtype, *arrays):
    return [x.astype(dtype) for x in arrays]


def assert_same(gpu, cpu, dtype, mass=1.0):
    """The CUDA result against the CPU's, to the tolerance of one computation on two paths
    (`mass`: the largest total weight, the scale of the marginal errors)."""
    tol = DEVICES[dtype]
    for name in ("f", "g"):
        got, want = getattr(gpu, name), getattr(cpu, name)
        assert type(got) is np.ndarray and got.dtype == np.float64 and got.shape == want.shape
        scale = max(1.0, float(np.max(np.abs(want), initial=0)))
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale, err_msg=name)
    np.testing.assert_array_equal(gpu.n_iter, cpu.n_iter)
    np.testing.assert_array_equal(gpu.converged, cpu.converged)
    np.testing.assert_allclose(gpu.cost, cpu.cost, rtol=tol)
    np.testing.assert_allclose(gpu.value, cpu.value, rtol=tol, atol=tol * 1e-3)
    # both measure the marginals of their plans: far below tol * mass once converged, and
    # equal to it for a plan that is off
    np.testing.assert_allclose(gpu.marginal_error, cpu.marginal_error, rtol=0, atol=tol * mass)


@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize(("m", "n", "d"), [(1, 1, 1), (50, 40, 3), (300, 257, 2),
                                           (130, 70, 5), (40, 30, 700)])
def test_numpy_round_trip_matches_the_cpu(dtype, cost, m, n, d):
    rng = np.random.default_rng(m + d)
    x, y, a, b = cast(dtype, *point_clouds(rng, m, n, d, shift=0.3))
    reg = 0.5 * d if cost == "sqeuclidean" else 0.3 * np.sqrt(d)
    for scale in (1.0, 0.2):
        kw = dict(reg=reg * scale, cost=cost, tol=1e-10)
        cpu = sinkhorn_points(x, y, a, b, **kw)
        gpu = sinkhorn_points(x, y, a, b, device="cuda", **kw)
        assert gpu.converged and cpu.converged
        assert_same(gpu, cpu, dtype)
        # apply and plan() compute on the host from the result's f and g
        np.testing.assert_allclose(gpu.apply(np.ones(n)), a, rtol=1e-6, atol=1e-6 / m)


@pytest.mark.parametrize("cost", COSTS)
def test_clouds_of_many_row_blocks_and_tiles(dtype, cost):
    rng = np.random.default_rng(7)
    x, y, a, b = cast(dtype, *point_clouds(rng, 700, 600, 3, shift=0.5))  # 6 row blocks, 3 tiles
    kw = dict(reg=0.1, cost=cost, tol=1e-9)
    cpu = sinkhorn_points(x, y, a, b, **kw)
    gpu = sinkhorn_points(x, y, a, b, device="cuda", **kw)
    assert gpu.converged
    assert_same(gpu, cpu, dtype)


@pytest.mark.parametrize("cost", COSTS)
def test_batches_zero_weights_and_shared_clouds(dtype, cost):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2, 1, 33, 3)).astype(dtype)
    y = rng.normal(size=(3, 21, 3)).astype(dtype) + 0.2  # batch (2, 3)
    a = (rng.random((2, 3, 33)) + 0.1).astype(dtype)
    a[0, 1, ::4] = 0
    a[1, 2, 5] = 0
    b = (rng.random(21) + 0.1).astype(dtype)
    b[[0, 9]] = 0
    b = (b * (a.astype(np.float64).sum(-1, keepdims=True) / b.sum())).astype(dtype)
    kw = dict(reg=0.3, cost=cost, tol=1e-10)
    cpu = sinkhorn_points(x, y, a, b, **kw)
    gpu = sinkhorn_points(x, y, a, b, device="cuda", **kw)
    assert gpu.f.shape == (2, 3, 33) and gpu.n_iter.shape == (2, 3)
    assert gpu.converged.all()
    assert_same(gpu, cpu, dtype, mass=float(a.astype(np.float64).sum(-1).max()))
    # zero weights: zero rows and columns of the plan, finite soft c-transforms
    P = gpu.plan()
    assert np.all(P[a == 0] == 0) and np.all(P[..., [0, 9]] == 0)
    assert np.all(np.isfinite(gpu.f)) and np.all(np.isfinite(gpu.g))


def test_warm_start_and_large_masses(dtype):
    rng = np.random.default_rng(9)
    x, y, a, b = point_clouds(rng, 80, 60, 2, shift=0.4)
    x, y = cast(dtype, x, y)
    for mass in (1.0, 1e200 if dtype == np.float64 else 1e30):
        a_m, b_m = cast(dtype, a * mass, b * mass)
        cold_cpu = sinkhorn_points(x, y, a_m, b_m, reg=0.2, tol=1e-10)
        cold = sinkhorn_points(x, y, a_m, b_m, reg=0.2, tol=1e-10, device="cuda")
        assert_same(cold, cold_cpu, dtype, mass)
        warm_cpu = sinkhorn_points(x, y, a_m, b_m, reg=0.2, tol=1e-10, init=cold_cpu.g)
        warm = sinkhorn_points(x, y, a_m, b_m, reg=0.2, tol=1e-10, init=cold_cpu.g,
                               device="cuda")
        assert warm.n_iter <= 3
        assert_same(warm, warm_cpu, dtype, mass)


@pytest.mark.parametrize("lib", gpu_libraries())
@pytest.mark.parametrize("cost", COSTS)
def test_gpu_arrays_in_place(lib, dtype, cost):
    rng = np.random.default_rng(10)
    x, y, a, b = cast(dtype, *point_clouds(rng, 64, 48, 3, shift=0.3))
    b[3] = 0
    b = (b * (a.astype(np.float64).sum() / b.astype(np.float64).sum())).astype(dtype)
    kw = dict(reg=0.4, cost=cost, tol=1e-10)
    res = sinkhorn_points(to_gpu(x, lib), to_gpu(y, lib), to_gpu(a, lib), to_gpu(b, lib),
                          device="auto", **kw)
    assert type(res.f).__module__.split(".")[0] == lib
    cpu = sinkhorn_points(x, y, a, b, **kw)
    host = dataclasses.replace(res, f=to_host(res.f), g=to_host(res.g))
    assert_same(host, cpu, dtype)
    # apply and plan() run on the host from the CUDA result
    np.testing.assert_allclose(res.apply_T(np.ones(64)), cpu.apply_T(np.ones(64)),
                               rtol=DEVICES[dtype], atol=1e-12)
    assert type(res.plan()) is np.ndarray
    # host weights beside GPU clouds are copied there; the default b has the mass of a
    res = sinkhorn_points(to_gpu(x, lib), to_gpu(y, lib), a, reg=0.4, cost=cost)
    cpu = sinkhorn_points(x, y, a, reg=0.4, cost=cost)
    np.testing.assert_allclose(to_host(res.f), cpu.f, rtol=DEVICES[dtype],
                               atol=DEVICES[dtype])


def test_bad_input_on_the_gpu():
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match="^a:"):
        sinkhorn_points(x, x, -np.ones(3), reg=0.1, device="cuda")
    for lib in gpu_libraries():
        bad = x.copy()
        bad[1, 1] = np.inf
        with pytest.raises(ValueError, match="^x:"):
            sinkhorn_points(to_gpu(bad, lib), to_gpu(x, lib), reg=0.1, device="cuda")
        with pytest.raises(ValueError, match="^y:"):
            sinkhorn_points(to_gpu(x, lib), to_gpu(np.zeros((3, 4)), lib), reg=0.1)
        with pytest.raises(ValueError, match="^b:"):
            sinkhorn_points(to_gpu(x, lib), to_gpu(x, lib), None, to_gpu(np.ones(3), lib),
                            reg=0.1)
        with pytest.raises(ValueError, match="^reg:"):
            sinkhorn_points(to_gpu(x, lib), to_gpu(x + 1e8, lib), reg=1e-2)
    assert optkern.cuda_available()
