"""The CUDA path's argument checks for Sinkhorn (optkern/ot/_cuda.py: device_problem), run
through the one array layer on torch CPU tensors here, against the CPU path's checks
(optkern/ot/_checks.py: prepare) on the same values: the same arrays, the same warm start, and
a ValueError naming the same argument. On a GPU the same code runs on CUDA tensors and CuPy
arrays (tests/test_sinkhorn_cuda.py)."""

import numpy as np
import pytest
from conftest import EXACT

from optkern.ot import _checks
from optkern.ot._cuda import device_problem

torch = pytest.importorskip("torch")

rng = np.random.default_rng(7)
M = rng.random((2, 4, 5))
a = rng.random(4) + 0.1
b = rng.random(5) + 0.1
b *= a.sum() / b.sum()


def on_device(x):
    return None if x is None else torch.from_numpy(np.array(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("init", [None, "f", "g"])
def test_device_checks_give_the_cpu_problem(dtype, init):
    Mt = M.astype(dtype)
    warm = {None: None, "f": (rng.standard_normal(4), None), "g": (None, rng.standard_normal(5))}
    start = warm[init]
    cpu = _checks.prepare(Mt, a, b, 0.3, start)
    dev_init = None if start is None else tuple(on_device(x) for x in start)
    dM, da, db, dg, batch_shape = device_problem(on_device(Mt), on_device(a), on_device(b), 0.3,
                                                 dev_init)
    assert batch_shape == cpu.batch_shape == (2,)
    assert dM.dtype == {np.float32: torch.float32, np.float64: torch.float64}[dtype]
    np.testing.assert_allclose(da.numpy(), cpu.a[0], rtol=1e-6)
    np.testing.assert_allclose(db.numpy().sum(), cpu.b[0].sum(), rtol=1e-6)
    if init is None:
        assert dg is None and cpu.init_g is None
    else:
        np.testing.assert_allclose(dg.numpy().reshape(-1, 5)[0], cpu.init_g[0],
                                   rtol=EXACT[dtype], atol=1e-6)


def test_default_marginals_are_uniform():
    _, da, db, _, _ = device_problem(on_device(M), None, None, 0.3, None)
    np.testing.assert_allclose(da.numpy(), np.full(4, 0.25))
    np.testing.assert_allclose(db.numpy(), np.full((1, 5), 0.2) if db.ndim == 2 else 0.2)


@pytest.mark.parametrize(("change", "name"), [
    (lambda M, a, b: (np.where(M > 0.5, np.nan, M), a, b), "M"),
    (lambda M, a, b: (np.where(M > 0.5, np.inf, M), a, b), "M"),
    (lambda M, a, b: (M, -a, b), "a"),
    (lambda M, a, b: (M, np.where(a > 0.3, np.nan, a), b), "a"),
    (lambda M, a, b: (M, np.zeros_like(a), b), "a"),
    (lambda M, a, b: (M, a, 2 * b), "b"),
    (lambda M, a, b: (M, a, b[:-1]), "b"),
    (lambda M, a, b: (M[0, 0], a, b), "M"),
])
def test_device_checks_reject_what_the_cpu_rejects(change, name):
    bad_M, bad_a, bad_b = change(M, a, b)
    with pytest.raises(ValueError, match=f"^{name}:"):
        _checks.prepare(bad_M, bad_a, bad_b, 0.3, None)
    with pytest.raises(ValueError, match=f"^{name}:"):
        device_problem(on_device(bad_M), on_device(bad_a), on_device(bad_b), 0.3, None)


def test_nan_warm_start_is_refused():
    with pytest.raises(ValueError, match="^init:"):
        device_problem(on_device(M), on_device(a), on_device(b), 0.3,
                       (None, on_device(np.full(5, np.nan))))


# --- givens: factorize(device="cuda")'s checks of U (optkern/givens/_cuda.py) ---------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_givens_device_checks_accept_an_orthogonal_matrix(dtype):
    from optkern import _gpu
    from optkern.givens._cuda import _check_device_values

    U = torch.from_numpy(np.linalg.qr(rng.standard_normal((6, 6)))[0].astype(dtype))
    _check_device_values(U, _gpu.dlpack_view(U, "U"), check=True)


@pytest.mark.parametrize(("bad", "message"), [
    (lambda U: np.where(U > 0.3, np.nan, U), "finite"),
    (lambda U: 2 * U, "orthogonal"),
])
def test_givens_device_checks_reject_as_the_cpu_does(bad, message):
    from optkern import _gpu
    from optkern.givens import _checks as givens_checks
    from optkern.givens._cuda import _check_device_values

    U = bad(np.linalg.qr(rng.standard_normal((6, 6)))[0])
    with pytest.raises(ValueError, match=f"^U:.*{message}"):
        if message == "finite":
            givens_checks.square_matrix(U, "U")
        givens_checks.check_orthogonal(U, "U")
    Ut = torch.from_numpy(U)
    with pytest.raises(ValueError, match=f"^U:.*{message}"):
        _check_device_values(Ut, _gpu.dlpack_view(Ut, "U"), check=True)
