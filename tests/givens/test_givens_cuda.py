"""optkern.givens.factorize(method="l1") on a CUDA device: the same trajectory as the CPU, NumPy
round trips, CuPy / torch inputs read in place, the stopping rules across chunk boundaries."""

import numpy as np
import pytest
from conftest import CONVERGED
from gpu_arrays import gpu_libraries, to_gpu  # CuPy / torch, whichever is installed
from reference import givens as ref

import optkern
from optkern import givens

pytestmark = pytest.mark.cuda


def haar(d, rng, dtype=np.float64):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return (q * np.sign(np.diag(r))).astype(dtype)


def run(U, n, **kwargs):
    steps = []
    seq = givens.factorize(U, n, callback=steps.append, **kwargs)
    return seq, np.array([s.decrease for s in steps])


def assert_same_steps(a, b, dec, l1, dtype):
    """Equal step for step while the decreases stand above rounding (test_givens.py)."""
    small = np.flatnonzero(dec < 1e-9 * l1)
    n = int(small[0]) if small.size else min(len(a), len(b))
    np.testing.assert_array_equal(a.i[:n], b.i[:n])
    np.testing.assert_array_equal(a.j[:n], b.j[:n])
    tol = CONVERGED[dtype]
    np.testing.assert_allclose(a.theta[:n], b.theta[:n], rtol=0, atol=tol)
    return n


@pytest.mark.parametrize("d", [2, 3, 17, 48, 64, 200, 513])
@pytest.mark.parametrize("kind", ["haar", "planted"])
def test_cpu_and_cuda_trajectories_agree(dtype, rng, d, kind):
    U = haar(d, rng, dtype) if kind == "haar" else givens.planted(d, d, rng, dtype=dtype)
    n = min(d * (d - 1) // 2, 300)
    cpu, dec = run(U, n)
    gpu = givens.factorize(U, n, device="cuda")
    assert gpu.dtype == dtype
    m = assert_same_steps(cpu, gpu, dec, np.abs(U).sum(), dtype)
    if kind == "haar" and d >= 17:
        assert m == n  # dense inputs stay well above rounding


def test_cuda_equals_brute_force(rng):
    U = haar(48, rng)
    gpu = givens.factorize(U, 100, device="cuda")
    i, j, theta = ref.l1_coordinate_descent(U, 100)
    np.testing.assert_array_equal(gpu.i, i)
    np.testing.assert_array_equal(gpu.j, j)
    np.testing.assert_allclose(gpu.theta, theta, atol=1e-9)


def test_cuda_runs_across_chunks_and_converges(rng):
    # More steps than one chunk (4096) and one graph (64), then convergence: no step after it.
    U, _ = givens.planted(128, 40, rng, return_sequence=True)
    cpu = givens.factorize(U, 10000)
    gpu = givens.factorize(U, 10000, device="cuda")
    assert len(gpu) < 10000 and abs(len(gpu) - len(cpu)) <= 3
    assert givens.symmetrized_frobenius(U, gpu.to_dense()) < 1e-9
    V = haar(100, rng)
    assert len(givens.factorize(V, 4100, device="cuda")) == 4100
    assert len(givens.factorize(V, 0, device="cuda")) == 0


def test_cuda_callback_and_progress(rng, capsys):
    U = haar(40, rng)
    seq = givens.factorize(U, 200, device="cuda", callback=lambda s: s.index == 9, progress=True)
    assert len(seq) == 10
    assert "givens l1 (cuda)" in capsys.readouterr().err


@pytest.mark.parametrize("lib", gpu_libraries())
def test_gpu_arrays_are_read_in_place(dtype, rng, lib):
    U = haar(64, rng, dtype)
    expected = givens.factorize(U, 150, device="cuda")
    got = givens.factorize(to_gpu(U, lib), 150, device="auto")
    np.testing.assert_array_equal(got.i, expected.i)
    np.testing.assert_array_equal(got.theta, expected.theta)


@pytest.mark.parametrize("lib", gpu_libraries())
def test_gpu_arrays_are_checked(lib):
    with pytest.raises(ValueError, match="^U: expected an orthogonal matrix"):
        givens.factorize(to_gpu(np.ones((4, 4)), lib), 3, device="cuda")
    with pytest.raises(ValueError, match="^U: expected finite values"):
        givens.factorize(to_gpu(np.full((4, 4), np.nan), lib), 3, device="cuda")
    with pytest.raises(ValueError, match="^U: expected a square matrix"):
        givens.factorize(to_gpu(np.ones((4, 5)), lib), 3, device="cuda")
    with pytest.raises(ValueError, match="^U: expected a host array for device='cpu'"):
        givens.factorize(to_gpu(np.eye(4), lib), 3, device="cpu")


def test_cuda_size_limit():
    limit = int(optkern._backend._cuda.givens.MAX_DIM)
    with pytest.raises(ValueError, match=f"^U: expected at most {limit} rows on CUDA"):
        givens.factorize(np.eye(limit + 1), 1, device="cuda", check=False)


def test_cuda_other_methods_are_refused(rng):
    with pytest.raises(ValueError, match="^device: expected 'cpu' for method='elimination'"):
        givens.factorize(haar(5, rng), method="elimination", device="cuda")
