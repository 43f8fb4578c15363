"""optkern.linalg.bmm on a CUDA device: NumPy round trips, and CuPy / torch arrays in place."""

import numpy as np
import pytest
from conftest import PRODUCT
from gpu_arrays import data_ptr, gpu_libraries, to_gpu, to_host
from reference.matmul import bmm_reference

import optkern
from optkern.linalg import bmm

pytestmark = pytest.mark.cuda

SHAPES = [((3,), 4, 4, 4), ((5,), 16, 16, 16), ((2, 3), 33, 17, 65), ((2,), 130, 70, 129),
          ((), 1, 1, 1), ((4,), 3, 0, 5), ((1,), 300, 257, 200)]


def assert_close(c, a, b, dtype):
    expected = bmm_reference(a, b)
    scale = bmm_reference(np.abs(a), np.abs(b)) + 1e-300
    tol = PRODUCT[dtype]
    assert np.all(np.abs(np.asarray(c) - expected) <= tol * max(4, np.sqrt(a.shape[-1])) * scale)


@pytest.mark.parametrize(("batch", "m", "k", "n"), SHAPES)
def test_numpy_round_trip(dtype, rng, batch, m, k, n):
    a = rng.standard_normal(batch + (m, k)).astype(dtype)
    b = rng.standard_normal(batch + (k, n)).astype(dtype)
    c = bmm(a, b, device="cuda")
    assert isinstance(c, np.ndarray) and c.dtype == dtype
    assert_close(c, a, b, dtype)


def test_numpy_broadcast_and_strided_inputs(rng):
    a = rng.standard_normal((4, 9, 12))[:, ::2, ::-1]
    b = rng.standard_normal((12, 7)).T.copy().T
    assert_close(bmm(a, b, device="cuda"), a, b, np.float64)


@pytest.mark.parametrize("lib", gpu_libraries())
@pytest.mark.parametrize(("batch", "m", "k", "n"), SHAPES)
def test_gpu_arrays_in_place(lib, dtype, rng, batch, m, k, n):
    a = rng.standard_normal(batch + (m, k)).astype(dtype)
    b = rng.standard_normal(batch + (k, n)).astype(dtype)
    da, db = to_gpu(a, lib), to_gpu(b, lib)
    pa, pb = data_ptr(da), data_ptr(db)
    dc = bmm(da, db, device="auto")  # "auto" follows the data onto the GPU
    assert type(dc) is type(da)
    assert data_ptr(da) == pa and data_ptr(db) == pb  # inputs untouched, not replaced
    assert_close(to_host(dc), a, b, dtype)


@pytest.mark.parametrize("lib", gpu_libraries())
def test_gpu_views_broadcast_and_out(lib, rng):
    a = rng.standard_normal((3, 8, 6))
    b = rng.standard_normal((6, 5))
    da, db = to_gpu(a, lib), to_gpu(b, lib)
    at = da.transpose(1, 2) if lib == "torch" else da.transpose(0, 2, 1)  # (3, 6, 8) view
    c = bmm(at, to_gpu(rng.standard_normal((8, 4)), lib), device="cuda")
    assert tuple(c.shape) == (3, 6, 4)
    out = to_gpu(np.zeros((3, 8, 5)), lib)
    ptr = data_ptr(out)
    assert bmm(da, db, device="auto", out=out) is out
    assert data_ptr(out) == ptr
    assert_close(to_host(out), a, b, np.float64)


@pytest.mark.parametrize("lib", gpu_libraries())
def test_gpu_dtype_policy_and_errors(lib):
    da = to_gpu(np.arange(6).reshape(2, 3), lib)
    db = to_gpu(np.ones((3, 2), np.float32), lib)
    assert str(bmm(da, db, device="cuda").dtype).endswith("float64")
    with pytest.raises(ValueError, match="^b: expected"):
        bmm(da, to_gpu(np.ones((4, 2)), lib), device="cuda")
    with pytest.raises(ValueError, match="^a: expected a host array for device='cpu'"):
        bmm(da, db, device="cpu")
    with pytest.raises(ValueError, match="^b: expected a GPU array"):
        bmm(da, np.ones((3, 2)), device="cuda")


def test_build_reports_the_device():
    info = optkern.build_info()
    assert info["cuda_available"] and info["cuda_devices"][0]["name"]
