"""The CUDA paths' argument checks for sinkhorn_unbalanced and sinkhorn_points
(optkern/ot/_cuda.py: unbalanced_device_problem, points_device_problem), run through the one
array layer on torch CPU tensors here, against the CPU paths' checks on the same values: the
same arrays and batch shape, and a ValueError naming the same argument. On a GPU the same code
runs on CUDA tensors and CuPy arrays (tests/ot/test_sinkhorn_unbalanced_cuda.py,
tests/ot/test_sinkhorn_points_cuda.py)."""

import numpy as np
import pytest

from optkern.ot import sinkhorn_points, sinkhorn_unbalanced
from optkern.ot._cuda import points_device_problem, unbalanced_device_problem

torch = pytest.importorskip("torch")

rng = np.random.default_rng(11)
M = rng.random((2, 4, 5))
A = rng.random(4) + 0.1
B = 3 * (rng.random((3, 1, 5)) + 0.1)  # another mass: unbalanced
X = rng.standard_normal((2, 6, 3))
Y = rng.standard_normal((5, 3)) + 0.5
WX = rng.random(6) + 0.1
WY = (rng.random(5) + 0.1) * (WX.sum() / (rng.random(5) + 0.1).sum())
WY *= WX.sum() / WY.sum()


def on_device(x):
    return None if x is None else torch.from_numpy(np.array(x))


def host(x):
    return x.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_unbalanced_device_checks_give_the_cpu_problem(dtype):
    dM, da, db, batch_shape = unbalanced_device_problem(on_device(M.astype(dtype)), A, B, 0.1)
    assert batch_shape == (3, 2)
    assert dM.dtype == da.dtype == db.dtype == getattr(torch, np.dtype(dtype).name)
    np.testing.assert_array_equal(host(da), A.astype(dtype))
    np.testing.assert_array_equal(host(db), B.astype(dtype))
    _, da, db, batch_shape = unbalanced_device_problem(on_device(M), None, None, 0.1)
    assert batch_shape == (2,)
    np.testing.assert_allclose(host(da), np.full(4, 1 / 4))  # mass 1 on each side, as on
    np.testing.assert_allclose(host(db), np.full(5, 1 / 5))  # the CPU


@pytest.mark.parametrize(("change", "name"), [
    (lambda M, a, b, reg: (np.where(M > 0.5, np.nan, M), a, b, reg), "M"),
    (lambda M, a, b, reg: (np.where(M > 0.5, np.inf, M), a, b, reg), "M"),
    (lambda M, a, b, reg: (M[..., :0], a, b, reg), "M"),
    (lambda M, a, b, reg: (M, -a, b, reg), "a"),
    (lambda M, a, b, reg: (M, np.zeros_like(a), b, reg), "a"),
    (lambda M, a, b, reg: (M, a[:3], b, reg), "a"),
    (lambda M, a, b, reg: (M, a, np.where(b > 0.5, np.nan, b), reg), "b"),
    (lambda M, a, b, reg: (M, a, 1e301 * b, reg), "b"),
    (lambda M, a, b, reg: (M, a, b, 1e-16), "reg"),
    (lambda M, a, b, reg: (M, a, np.concatenate([b, b]), reg), "M, a, b"),
])
def test_unbalanced_device_checks_name_the_argument_the_cpu_names(change, name):
    bM, ba, bb, reg = change(M, A, B[:2, 0], 0.1)
    with pytest.raises(ValueError, match=f"^{name}:"):
        sinkhorn_unbalanced(bM, ba, bb, reg=reg, reg_m=1.0)
    with pytest.raises(ValueError, match=f"^{name}:"):
        unbalanced_device_problem(on_device(bM), on_device(ba), on_device(bb), reg)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_points_device_checks_give_the_cpu_problem(dtype):
    g0 = rng.standard_normal(5)
    x, y, a, b, dg, batch_shape = points_device_problem(
        on_device(X.astype(dtype)), on_device(Y.astype(dtype)), on_device(WX), WY, g0,
        "sqeuclidean", 0.1)
    assert batch_shape == (2,)
    assert x.dtype == y.dtype == a.dtype == b.dtype == getattr(torch, np.dtype(dtype).name)
    assert dg.dtype == torch.float64
    np.testing.assert_array_equal(host(a), WX.astype(dtype))
    np.testing.assert_array_equal(host(b), WY.astype(dtype))
    np.testing.assert_array_equal(host(dg), g0)
    # mixed dtypes promote, as on the host; the default b has the mass of a
    x, y, a, b, dg, batch_shape = points_device_problem(
        on_device(X.astype(np.float32)), on_device(Y), 2 * WX, None, None, "euclidean", 0.1)
    assert x.dtype == y.dtype == torch.float64 and dg is None
    cpu = sinkhorn_points(X.astype(np.float32), Y, 2 * WX, reg=0.1, max_iter=1)
    np.testing.assert_allclose(host(b).reshape(-1), cpu.b.reshape(-1), rtol=1e-15)


@pytest.mark.parametrize(("change", "name"), [
    (lambda x, y, a, b, g, reg: (np.where(x > 1, np.nan, x), y, a, b, g, reg), "x"),
    (lambda x, y, a, b, g, reg: (x, np.where(y > 1, np.inf, y), a, b, g, reg), "y"),
    (lambda x, y, a, b, g, reg: (x, y[:, :2], a, b, g, reg), "y"),
    (lambda x, y, a, b, g, reg: (x[:, :0], y, a[:0], b, g, reg), "x"),
    (lambda x, y, a, b, g, reg: (x, y, -a, b, g, reg), "a"),
    (lambda x, y, a, b, g, reg: (x, y, a, np.zeros_like(b), g, reg), "b"),
    (lambda x, y, a, b, g, reg: (x, y, a, 2 * b, g, reg), "b"),
    (lambda x, y, a, b, g, reg: (x, y, a, b[:4], g, reg), "b"),
    (lambda x, y, a, b, g, reg: (x, y, a, b, g[:3], reg), "init"),
    (lambda x, y, a, b, g, reg: (x, y, a, b, np.full_like(g, np.nan), reg), "init"),
    (lambda x, y, a, b, g, reg: (x, 1e8 + y, a, b, g, 1e-2), "reg"),
])
def test_points_device_checks_name_the_argument_the_cpu_names(change, name):
    args = change(X, Y, WX, WY, rng.standard_normal(5), 0.1)
    *arrays, reg = args
    with pytest.raises(ValueError, match=f"^{name}:"):
        sinkhorn_points(*arrays[:4], init=arrays[4], reg=reg)
    with pytest.raises(ValueError, match=f"^{name}:"):
        points_device_problem(*(on_device(v) for v in arrays), "sqeuclidean", reg)
