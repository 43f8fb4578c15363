"""Batched matmul: optkern against numpy.matmul and torch on the CPU, and against cuBLAS on a GPU.

Every case checks its result against numpy.matmul before it is timed, then reports GFLOP/s,
the ratio to its baseline (numpy on the CPU, cuBLAS on the GPU) and the fraction of the
machine's limit (see conftest.Machine.matmul_roofline).
"""

import functools

import numpy as np
import pytest

import optkern

SHAPES = [(100000, 4), (20000, 16), (5000, 32), (1000, 64), (200, 128), (50, 256), (8, 1024),
          (1, 4096)]
DTYPES = ["float32", "float64"]
IMPLS = ["numpy", "torch", "optkern-cpu", "optkern-cuda", "cublas"]


@functools.lru_cache(maxsize=2)
def operands(batch, n, dtype):
    rng = np.random.default_rng(n)
    a = rng.standard_normal((batch, n, n)).astype(dtype)
    b = rng.standard_normal((batch, n, n)).astype(dtype)
    return a, b, np.matmul(a, b)


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def gpu_operands(a, b):
    torch = _torch()
    if torch is not None and torch.cuda.is_available():
        return torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda(), torch.cuda.synchronize
    import cupy

    return cupy.asarray(a), cupy.asarray(b), cupy.cuda.Device().synchronize


def implementation(impl, a, b):
    """A callable computing a @ b, and a function bringing its result to the host."""
    to_host = np.asarray
    if impl == "numpy":
        return (lambda: np.matmul(a, b)), to_host
    if impl == "optkern-cpu":
        return (lambda: optkern.linalg.bmm(a, b)), to_host
    if impl == "torch":
        torch = _torch()
        if torch is None:
            pytest.skip("torch is not installed")
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        return (lambda: torch.bmm(ta, tb)), lambda r: r.numpy()
    if not optkern.cuda_available():
        pytest.skip("needs a CUDA device")
    da, db, sync = gpu_operands(a, b)
    to_host = lambda r: r.cpu().numpy() if hasattr(r, "cpu") else r.get()  # noqa: E731
    if impl == "optkern-cuda":
        def run():
            c = optkern.linalg.bmm(da, db, device="cuda")
            sync()
            return c
    else:  # cuBLAS through torch.bmm or cupy.matmul (strided batched GEMM)
        mm = _torch().bmm if hasattr(da, "cpu") else __import__("cupy").matmul

        def run():
            c = mm(da, db)
            sync()
            return c
    return run, to_host


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("batch", "n"), SHAPES, ids=[f"B{b}-n{n}" for b, n in SHAPES])
def test_bmm(benchmark, report, machine, batch, n, dtype, impl):
    a, b, expected = operands(batch, n, dtype)
    run, to_host = implementation(impl, a, b)
    result = to_host(run())
    tol = 1e-4 if dtype == "float32" else 1e-10
    scale = np.sqrt(n) * np.abs(expected).max()
    assert np.abs(result - expected).max() <= tol * scale, "result differs from numpy.matmul"

    gflop = 2.0 * batch * n**3 / 1e9
    rounds = int(np.clip(0.5 / (gflop / 30.0), 3, 30))
    benchmark.group = f"bmm {dtype} B={batch} n={n}"
    benchmark.pedantic(run, rounds=rounds, warmup_rounds=1, iterations=1)
    on_gpu = impl in ("optkern-cuda", "cublas")
    report(
        benchmark.group, impl, gflop, "GFLOP/s",
        limit=machine.matmul_roofline(n, batch, dtype, gpu=on_gpu),
        baseline="cublas" if on_gpu else "numpy",
    )
