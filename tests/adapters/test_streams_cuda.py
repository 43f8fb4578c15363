"""Every kernel with a CUDA path runs on the stream it is given (stream=, as a handle or a
torch / CuPy stream object) or, by default, on the producing library's current stream: the
inputs are written on a side stream just before the call, so a kernel queued on another
stream could read them unfinished; the results must equal the CPU's."""

import numpy as np
import pytest
from gpu_arrays import gpu_libraries, to_host

from optkern import givens, linalg, ot, tv
from optkern.optimize import minimize_batch, problems

pytestmark = pytest.mark.cuda


def side_stream(lib):
    if lib == "torch":
        import torch

        return torch.cuda.Stream()
    import cupy

    return cupy.cuda.Stream(non_blocking=True)


def on_stream(lib, stream):
    """The library's context that makes `stream` current."""
    if lib == "torch":
        import torch

        return torch.cuda.stream(stream)
    return stream


def written_on(lib, host):
    """A GPU copy of host made by a kernel queued on the current stream (zeros, then += host),
    so that its values exist only once that stream has run."""
    if lib == "torch":
        import torch

        out = torch.zeros(host.shape, dtype=getattr(torch, host.dtype.name), device="cuda")
        out += torch.from_numpy(np.ascontiguousarray(host)).cuda(non_blocking=True)
        return out
    import cupy

    out = cupy.zeros(host.shape, host.dtype)
    out += cupy.asarray(host)
    return out


rng = np.random.default_rng(5)
A, B = rng.standard_normal((4, 64, 64)), rng.standard_normal((4, 64, 64))
X = np.cumsum(rng.standard_normal((8, 300)), axis=-1)
COST = rng.random((3, 40, 50))
TRI = (-np.ones((5, 30)), 4 + rng.random((5, 30)), -np.ones((5, 30)), rng.standard_normal((5, 30)))
U = np.linalg.qr(rng.standard_normal((32, 32)))[0]
CLOUD_X, CLOUD_Y = rng.standard_normal((2, 70, 3)), rng.standard_normal((2, 50, 3)) + 0.5

# name -> (call on GPU arrays with stream=..., the same on the CPU, host inputs)
KERNELS = {
    "bmm": (lambda g, s: linalg.bmm(g[0], g[1], device="cuda", stream=s),
            lambda: A @ B, (A, B)),
    "tridiagonal_solve": (lambda g, s: linalg.tridiagonal_solve(*g, device="cuda", stream=s),
                          lambda: linalg.tridiagonal_solve(*TRI), TRI),
    "tv.denoise": (lambda g, s: tv.denoise(g[0], 2.0, device="cuda", stream=s),
                   lambda: tv.denoise(X, 2.0), (X,)),
    "tv.denoise_vjp": (lambda g, s: tv.denoise_vjp(g[0], g[0], 2.0, device="cuda", stream=s)[0],
                       lambda: tv.denoise_vjp(tv.denoise(X, 2.0), tv.denoise(X, 2.0), 2.0)[0],
                       (tv.denoise(X, 2.0),)),
    "ot.sinkhorn": (lambda g, s: ot.sinkhorn(g[0], reg=0.1, device="cuda", stream=s).plan,
                    lambda: ot.sinkhorn(COST, reg=0.1).plan, (COST,)),
    "ot.sinkhorn_unbalanced": (
        lambda g, s: ot.sinkhorn_unbalanced(g[0], reg=0.1, reg_m=1.0, device="cuda",
                                            stream=s).plan,
        lambda: ot.sinkhorn_unbalanced(COST, reg=0.1, reg_m=1.0).plan, (COST,)),
    "ot.sinkhorn_points": (
        lambda g, s: ot.sinkhorn_points(g[0], g[1], reg=0.5, device="cuda", stream=s).f,
        lambda: ot.sinkhorn_points(CLOUD_X, CLOUD_Y, reg=0.5).f, (CLOUD_X, CLOUD_Y)),
    "givens.factorize": (lambda g, s: givens.factorize(g[0], 40, device="cuda", stream=s).theta,
                         lambda: givens.factorize(U, 40).theta, (U,)),
    "minimize_batch": (lambda g, s: minimize_batch(problems.rosenbrock(4), g[0], device="cuda",
                                                   stream=s).x,
                       lambda: minimize_batch(problems.rosenbrock(4), np.zeros((6, 4))).x,
                       (np.zeros((6, 4)),)),
}


def as_host(x):
    return np.asarray(x) if isinstance(x, np.ndarray) else to_host(x)


@pytest.mark.parametrize("lib", gpu_libraries())
@pytest.mark.parametrize("name", sorted(KERNELS))
@pytest.mark.parametrize("how", ["explicit object", "explicit handle", "current stream"])
def test_kernels_run_on_the_requested_stream(lib, name, how):
    call, expected, host_inputs = KERNELS[name]
    stream = side_stream(lib)
    with on_stream(lib, stream):
        inputs = [written_on(lib, h) for h in host_inputs]
        if how == "current stream":
            got = call(inputs, None)
    if how != "current stream":
        handle = stream if how == "explicit object" else (
            stream.cuda_stream if lib == "torch" else stream.ptr)
        got = call(inputs, handle)
    stream.synchronize()
    # the optimiser's rounding differs between CPU and GPU (FMA contraction): its minimiser
    # agrees to its tolerance; the others to rounding
    atol = 1e-4 if name == "minimize_batch" else 1e-8
    np.testing.assert_allclose(as_host(got), expected(), rtol=1e-6, atol=atol)


def test_numpy_inputs_are_staged_on_the_given_stream():
    lib = gpu_libraries()[0] if gpu_libraries() else pytest.skip("needs torch or CuPy")
    stream = side_stream(lib)
    c = linalg.bmm(A, B, device="cuda", stream=stream)  # upload, kernel, download on it
    np.testing.assert_allclose(c, A @ B, rtol=1e-12, atol=1e-12)
