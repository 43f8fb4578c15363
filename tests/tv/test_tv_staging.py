"""The host-staging plumbing of optkern.tv and tridiagonal_solve on device="cuda", run on any
machine: a stand-in for optkern._cuda keeps "device" buffers in host memory and runs the CPU
kernels on them. It checks what the Python side hands the CUDA launchers (pointers, strides,
scratch sizes, argument order) and what it does with the results; the kernels themselves are
tested on a GPU by test_tv_cuda.py."""

import ctypes
from types import SimpleNamespace

import numpy as np
import pytest

import optkern
from optkern import _backend
from optkern.linalg import tridiagonal_solve
from optkern.tv import denoise, denoise_vjp

if _backend._cuda is None:  # pragma: no cover - builds without nvcc
    pytest.skip("optkern was built without CUDA", allow_module_level=True)


class HostDevice:
    """optkern._cuda with host memory as "device" memory and the CPU kernels as kernels."""

    def __init__(self, real):
        self.real = real
        self.buffers = {}
        self.calls = []
        # the area submodules _cuda.tv and _cuda.linalg, with the stand-ins below
        self.tv = SimpleNamespace(
            TvMapping=real.tv.TvMapping, denoise=self.tv_denoise,
            denoise_irls=self.tv_denoise_irls, denoise_vjp=self.tv_denoise_vjp,
            denoise_scratch_bytes=real.tv.denoise_scratch_bytes,
            denoise_irls_scratch_bytes=real.tv.denoise_irls_scratch_bytes)
        self.linalg = SimpleNamespace(
            tridiagonal_solve=self.tridiagonal_solve,
            tridiagonal_solve_scratch_bytes=real.linalg.tridiagonal_solve_scratch_bytes)

    def view(self, ptr, dtype, shape):
        dtype = np.dtype(dtype)
        count = int(np.prod(shape))
        raw = (ctypes.c_char * max(count * dtype.itemsize, 1)).from_address(ptr)
        return np.frombuffer(raw, dtype, count).reshape(shape)

    def malloc(self, nbytes):
        buf = np.zeros(nbytes, np.uint8)
        self.buffers[buf.ctypes.data] = buf
        return buf.ctypes.data

    def free(self, ptr):
        del self.buffers[ptr]

    def copy_to_device(self, ptr, host, stream):
        self.view(ptr, host.dtype, host.shape)[...] = host

    def copy_to_host(self, host, ptr, stream):
        host[...] = self.view(ptr, host.dtype, host.shape)

    def stream_synchronize(self, stream):
        pass

    def scratch(self, ptr, nbytes, needed):
        assert ptr in self.buffers
        assert self.buffers[ptr].nbytes >= nbytes >= needed

    def lam(self, ptr, stride, batch):
        return self.view(ptr, np.float64, (1 if stride == 0 else batch,)).copy()

    def tv_denoise(self, dtype, batch, n, x, lam, lam_stride, y, scratch, nbytes, stream, mapping,
                   budget):
        self.calls.append(("tv_denoise", int(mapping), budget))
        self.scratch(scratch, nbytes, self.tv.denoise_scratch_bytes(batch, n))
        _backend._core.tv.denoise(self.view(x, dtype, (batch, n)),
                                  self.lam(lam, lam_stride, batch), self.view(y, dtype, (batch, n)))

    def tv_denoise_irls(self, dtype, batch, n, x, lam, lam_stride, tol, max_iter, y, nit, change,
                        scratch, nbytes, stream):
        self.calls.append(("tv_denoise_irls", tol, max_iter))
        self.scratch(scratch, nbytes, self.tv.denoise_irls_scratch_bytes(batch, n))
        _backend._core.tv.denoise_irls(self.view(x, dtype, (batch, n)),
                                       self.lam(lam, lam_stride, batch), tol, max_iter,
                                       self.view(y, dtype, (batch, n)),
                                       self.view(nit, np.int64, (batch,)),
                                       self.view(change, np.float64, (batch,)))

    def tv_denoise_vjp(self, dtype, batch, n, y, grad_y, rtol, grad_x, grad_lam, stream, mapping):
        self.calls.append(("tv_denoise_vjp", rtol, int(mapping)))
        _backend._core.tv.denoise_vjp(self.view(y, dtype, (batch, n)),
                                      self.view(grad_y, dtype, (batch, n)), rtol,
                                      self.view(grad_x, dtype, (batch, n)),
                                      self.view(grad_lam, np.float64, (batch,)))

    def tridiagonal_solve(self, dtype, batch, n, operands, x, status, scratch, nbytes, stream):
        self.calls.append(("tridiagonal_solve", [stride for _, stride in operands]))
        self.scratch(scratch, nbytes, self.linalg.tridiagonal_solve_scratch_bytes(dtype, batch, n))
        rows = [self.view(p, dtype, (1 if stride == 0 else batch, n)) for p, stride in operands]
        x_rows = self.view(x, dtype, (batch, n))
        count, first = _backend._core.linalg.tridiagonal_solve(*rows, x_rows)
        if status:
            self.view(status, np.int64, (2,))[...] = (count, first)


@pytest.fixture
def device(monkeypatch):
    fake = HostDevice(_backend._cuda)
    monkeypatch.setattr(_backend, "_cuda", fake)
    monkeypatch.setattr(_backend, "cuda_available", lambda: True)
    yield fake
    assert not fake.buffers, "staging buffers leaked"


def test_exact_round_trip(device, dtype, rng):
    x = rng.standard_normal((3, 4, 50)).astype(dtype)
    lam = rng.uniform(0.1, 1.0, (3, 4))
    np.testing.assert_array_equal(denoise(x, lam, device="cuda"), denoise(x, lam))
    assert device.calls[-1] == ("tv_denoise", 0, -1)
    y = denoise(x, 0.5, device="cuda")
    assert y.dtype == dtype
    assert y.shape == x.shape
    np.testing.assert_array_equal(y, denoise(x, 0.5))


def test_exact_info_and_private_options(device, rng):
    from optkern.tv import _cuda as _tv_cuda

    x = rng.standard_normal((2, 30))
    r = _tv_cuda.denoise(x, 0.3, "exact", 1e-6, 10, True, mapping="direct", budget=0)
    assert device.calls[-1] == ("tv_denoise", 2, 0)
    np.testing.assert_array_equal(r.y, denoise(x, 0.3))
    assert (r.nit == 0).all()
    assert r.converged.all()
    assert r.method == "exact"


def test_irls_round_trip(device, rng):
    x = rng.standard_normal((5, 40))
    r = denoise(x, 0.4, method="irls", tol=1e-5, max_iter=300, device="cuda", return_info=True)
    expected = denoise(x, 0.4, method="irls", tol=1e-5, max_iter=300, return_info=True)
    np.testing.assert_array_equal(r.y, expected.y)
    np.testing.assert_array_equal(r.nit, expected.nit)
    np.testing.assert_array_equal(r.change, expected.change)
    assert r.nit.shape == (5,)
    assert device.calls[-1] == ("tv_denoise_irls", 1e-5, 300)


def test_vjp_round_trip(device, dtype, rng):
    y = denoise(rng.standard_normal((4, 30)).astype(dtype), 0.5)
    g = rng.standard_normal((4, 30)).astype(dtype)
    for lam in (0.5, np.full((4, 1), 0.5)):
        got = denoise_vjp(y, g, lam, device="cuda")
        want = denoise_vjp(y, g, lam)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        assert np.shape(got[1]) == np.shape(lam)


def test_tridiagonal_round_trip_and_singular(device, rng):
    lower, diag, upper = rng.standard_normal((3, 1, 9)), rng.standard_normal((3, 1, 9)) + 4, \
        rng.standard_normal((9,))
    rhs = rng.standard_normal((3, 2, 9))
    np.testing.assert_array_equal(tridiagonal_solve(lower, diag, upper, rhs, device="cuda"),
                                  tridiagonal_solve(lower, diag, upper, rhs))
    assert device.calls[-1] == ("tridiagonal_solve", [9, 9, 0, 9])
    with pytest.raises(np.linalg.LinAlgError, match=r"^diag: the system at batch index \(1,\)"):
        tridiagonal_solve(np.ones((2, 3)), np.array([[2.0, 1, 1], [1, 1, 1]]),
                          np.array([1.0, 0, 0]), np.ones(3), device="cuda")


def test_host_checks_happen_before_any_copy(device):
    with pytest.raises(ValueError, match="^x:"):
        denoise(np.array([1.0, np.nan]), 1.0, device="cuda")
    with pytest.raises(ValueError, match="^lam:"):
        denoise(np.ones((2, 3)), np.array([1.0, -1.0]), device="cuda")
    with pytest.raises(ValueError, match="^grad_y:"):
        denoise_vjp(np.ones((2, 3)), np.ones((2, 4)), 1.0, device="cuda")
    assert not device.calls


def test_auto_stays_on_the_cpu_for_numpy(device, rng):
    x = rng.standard_normal(20)
    denoise(x, 0.1, device="auto")
    assert not device.calls
    assert optkern.cuda_available() in (True, False)
