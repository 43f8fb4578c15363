"""Results come back as the input's kind of array (optkern/_arrays.py): torch CPU tensors in,
torch tensors out, dtype kept, for every public function that takes and returns arrays. (GPU
arrays are covered by the cuda tests; dask arrays by test_dask.py.)"""

import numpy as np
import pytest
from conftest import EXACT

import optkern

torch = pytest.importorskip("torch")


def t(a, dtype):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=dtype))


def arrays_of(result):
    """The array-valued parts of a result (itself, a tuple's items, a dataclass's fields)."""
    if isinstance(result, tuple):
        return [a for r in result for a in arrays_of(r)]
    if hasattr(result, "__dataclass_fields__"):
        return [a for name in result.__dataclass_fields__
                for a in arrays_of(getattr(result, name))]
    return [result] if isinstance(result, (np.ndarray, torch.Tensor)) else []


def check_kind(result, want, dtype):
    found = arrays_of(result)
    assert found, "no array in the result"
    assert not [a for a in found if isinstance(a, np.ndarray) and a.dtype.kind == "f"], \
        "a NumPy float array came back for torch input"
    floats = [a for a in found if isinstance(a, torch.Tensor) and a.is_floating_point()]
    assert floats and all(a.device.type == "cpu" for a in floats)
    # the main result has the dtype and the values of the same call on NumPy arrays
    main = np.asarray(arrays_of(want)[0])
    got = floats[0]
    assert got.numpy().dtype == main.dtype
    np.testing.assert_allclose(got.numpy(), main, rtol=EXACT[dtype])


rng = np.random.default_rng(3)
M = rng.random((5, 6))
x = np.cumsum(rng.standard_normal((3, 20)), axis=1)
img = rng.random((6, 7))
pts_x, pts_y = rng.random((5, 2)), rng.random((6, 2))
U = optkern.givens.planted(6, 8, rng)
seq = optkern.givens.factorize(U, 8)

CALLS = {
    "linalg.bmm": (lambda f: optkern.linalg.bmm(f(M), f(M.T))),
    "linalg.tridiagonal_solve": (lambda f: optkern.linalg.tridiagonal_solve(
        f(-np.ones(8)), f(3 * np.ones(8)), f(-np.ones(8)), f(np.arange(8.0)))),
    "tv.denoise": (lambda f: optkern.tv.denoise(f(x), 0.5)),
    "tv.denoise info": (lambda f: optkern.tv.denoise(f(x), 0.5, method="irls", return_info=True)),
    "tv.denoise_vjp": (lambda f: optkern.tv.denoise_vjp(f(x), f(x), 0.5)),
    "tv.denoise_2d": (lambda f: optkern.tv.denoise_2d(f(img), 0.1)),
    "tv.lambda_max": (lambda f: optkern.tv.lambda_max(f(x))),
    "ot.sinkhorn": (lambda f: optkern.ot.sinkhorn(f(M), reg=0.1)),
    "ot.sinkhorn_vjp": (lambda f: optkern.ot.sinkhorn_vjp(
        f(optkern.ot.sinkhorn(M, reg=0.1).plan), f(M), 0.1)),
    "ot.sinkhorn2": (lambda f: optkern.ot.sinkhorn2(f(np.stack([M, M])), reg=0.1)),
    "ot.sinkhorn_unbalanced": (lambda f: optkern.ot.sinkhorn_unbalanced(f(M), reg=0.1,
                                                                        reg_m=1.0)),
    "ot.sinkhorn_points": (lambda f: optkern.ot.sinkhorn_points(f(pts_x), f(pts_y), reg=0.1)),
    "optimize.minimize": (lambda f: optkern.optimize.minimize(
        optkern.optimize.problems.rosenbrock(4), f(np.zeros(4)))),
    "optimize.minimize_batch": (lambda f: optkern.optimize.minimize_batch(
        optkern.optimize.problems.rosenbrock(4), f(np.zeros((3, 4))))),
    "givens.GivensSequence.apply": (lambda f: seq.apply(f(np.eye(6)))),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(CALLS))
def test_torch_cpu_tensors_give_torch_tensors(name, dtype):
    call = CALLS[name]
    want = call(lambda a: np.asarray(a, dtype=dtype))
    got = call(lambda a: t(a, dtype))
    check_kind(got, want, dtype)


def test_numpy_in_numpy_out():
    assert type(optkern.linalg.bmm(M, M.T)) is np.ndarray
    assert type(optkern.ot.sinkhorn(M, reg=0.1).plan) is np.ndarray
