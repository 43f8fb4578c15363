"""1-D total variation: optkern against prox_tv, scikit-image and SciPy on the CPU, and its
CUDA kernels on a GPU.

Groups:
* exact solver, one signal: n in {1e3, 1e5, 1e6, 1e7}, noisy random walks ("walk") and
  piecewise-constant signals plus noise ("blocks"), lam = 0.1 and 0.5 lambda_max. Peers:
  prox_tv's tv1_1d (its default hybrid taut string, Condat's algorithm and the classic taut
  string), scikit-image's denoise_tv_chambolle (iterative; its distance to the optimum is
  printed).
* exact solver, batches 4096 x 1000 and 65536 x 256: optkern on 1 thread and on all threads,
  prox_tv looped in Python.
* IRLS per iteration at n in {1e3, 1e6}: optkern, the lecture notes' dense Cholesky and
  SciPy's solveh_banded loop, all running the same iterations from u = x (100 at n = 1e3,
  10 at n = 1e6); the distance to the exact optimum after them is printed.
* GPU (when there is one): the 65536 x 256 and 4096 x 1000 batches, forward and backward,
  both thread mappings, float32 and float64.

Every case checks its result before it is timed. Rates are in Msamples/s (for IRLS,
Msamples x iterations per second). The limit column ("of limit") is this machine's floor:
for the exact solver the smaller of the memory floor (read x, write y) and 10 ns per sample
per core, the speed of the best sequential algorithms (performance-notes.md); for IRLS about
10 cycles per sample and iteration per core, and past the last-level cache the memory floor
of the ~72 bytes a sample moves per iteration; on the GPU the memory floor of reading x and
writing y (forward) or reading y and grad_y and writing grad_x (backward).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from test_tv_grid import prox_tv  # one definition of how the peer is found

import optkern
from optkern.tv import denoise, denoise_vjp, lambda_max

SIZES = [1_000, 100_000, 1_000_000, 10_000_000]
KINDS = ["walk", "blocks"]
FRACTIONS = [0.1, 0.5]
BATCHES = [(4096, 1000), (65536, 256)]
PEERS = {"prox_tv": "hybridtautstring", "prox_tv-condat": "condat",
         "prox_tv-taut": "classictautstring"}


@functools.lru_cache(maxsize=4)
def signals(batch, n, kind, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "walk":
        return np.cumsum(rng.standard_normal((batch, n)), axis=-1)
    jumps = np.where(rng.random((batch, n)) < 0.01, rng.standard_normal((batch, n)), 0.0)
    return np.cumsum(jumps, axis=-1) + 0.1 * rng.standard_normal((batch, n))


@functools.lru_cache(maxsize=4)
def problem(batch, n, kind, fraction):
    x = signals(batch, n, kind)
    lam = fraction * lambda_max(x)
    return x, lam, denoise(x, lam)


def objective(x, y, lam):
    return 0.5 * ((y - x) ** 2).sum(-1) + lam * np.abs(np.diff(y, axis=-1)).sum(-1)


def exact_limit(machine, itemsize, threads):
    memory = machine.read_gbs * 1e9 / (2 * itemsize)
    return min(memory, threads * 1e8) / 1e6


def check_exact(result, expected, x, lam):
    scale = np.abs(x).max() + np.max(lam)
    err = np.abs(result - expected).max()
    assert err <= 1e-6 * scale, f"differs from optkern's exact solution by {err:.2e}"


def with_threads(n_threads, fn):
    def run():
        old = optkern.set_num_threads(n_threads)
        try:
            return fn()
        finally:
            optkern.set_num_threads(old)
    return run


# --- exact solver, one signal -------------------------------------------------------------


@pytest.mark.parametrize("impl", ["optkern"] + list(PEERS) + ["skimage"])
@pytest.mark.parametrize("fraction", FRACTIONS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", SIZES)
def test_exact_single(benchmark, report, machine, n, kind, fraction, impl):
    x, lam, expected = problem(1, n, kind, fraction)
    x1, lam1 = x[0], float(lam[0])
    note = ""
    if impl == "optkern":
        run = functools.partial(denoise, x1, lam1)
    elif impl == "skimage":
        if n > 100_000:
            pytest.skip("Chambolle's iteration takes minutes here")
        restoration = pytest.importorskip("skimage.restoration")
        run = functools.partial(restoration.denoise_tv_chambolle, x1, weight=lam1)
    else:
        ptv = prox_tv()
        if impl == "prox_tv-condat" and n > 100_000:
            pytest.skip("Condat's algorithm rescans here: 0.6 Msamples/s at n = 1e6 in a probe")
        run = functools.partial(ptv.tv1_1d, x1, lam1, method=PEERS[impl])
    result = run()
    if impl == "skimage":  # iterative, stopping on its own test: how far from the optimum
        best = objective(x1, expected[0], lam1)
        gap = (objective(x1, result, lam1) - best) / best
        assert result.shape == x1.shape
        assert np.isfinite(result).all()
        assert gap >= -1e-12
        note = f"objective gap {gap:.1e}, max|y-y*| {np.abs(result - expected[0]).max():.1e}"
    else:
        check_exact(result, expected[0], x1, lam1)
    rounds = int(np.clip(2e7 / n, 3, 50))
    benchmark.group = f"tv exact n={n:.0e} {kind} lam={fraction}*lmax"
    benchmark.pedantic(run, rounds=rounds, warmup_rounds=1, iterations=1)
    report(benchmark.group, impl, n / 1e6, "Msamples/s", limit=exact_limit(machine, 8, 1),
           baseline="prox_tv", note=note)


# --- exact solver, batches ---------------------------------------------------------------------


@pytest.mark.parametrize("impl", ["optkern-1t", "optkern", "prox_tv", "prox_tv-taut"])
@pytest.mark.parametrize("fraction", FRACTIONS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("batch", "n"), BATCHES, ids=[f"{b}x{n}" for b, n in BATCHES])
def test_exact_batch(benchmark, report, machine, batch, n, kind, fraction, impl):
    x, lam, expected = problem(batch, n, kind, fraction)
    threads = optkern.get_num_threads()
    if impl == "optkern":
        run = functools.partial(denoise, x, lam)
    elif impl == "optkern-1t":
        run, threads = with_threads(1, functools.partial(denoise, x, lam)), 1
    else:
        ptv, method = prox_tv(), PEERS[impl]
        threads = 1

        def run():
            return np.stack([ptv.tv1_1d(xi, li, method=method) for xi, li in zip(x, lam)])
    check_exact(run(), expected, x, lam)
    benchmark.group = f"tv exact batch {batch}x{n} {kind} lam={fraction}*lmax"
    benchmark.pedantic(run, rounds=3, warmup_rounds=1, iterations=1)
    report(benchmark.group, impl, batch * n / 1e6, "Msamples/s",
           limit=exact_limit(machine, 8, threads), baseline="prox_tv")


# --- IRLS ----------------------------------------------------------------------------------------


def irls_banded(x, lam, iterations):
    """The notes' iteration with SciPy's banded Cholesky solve (solveh_banded) per step."""
    from scipy.linalg import solveh_banded

    dx = x[:-1] - x[1:]
    u = x.copy()
    ab = np.empty((2, x.size - 1))
    ab[0, 0], ab[0, 1:] = 0.0, -1.0
    for _ in range(iterations):
        ab[1] = np.abs(u[:-1] - u[1:]) / lam + 2
        w = solveh_banded(ab, dx, check_finite=False)
        u = x.copy()
        u[1:] += w
        u[:-1] -= w
    return u


def irls_dense_cholesky(x, lam, iterations):
    """The notes' listing: a dense (n-1) x (n-1) H = diag|Du|/lam + DD^T, Cholesky, solve."""
    from scipy.linalg import cho_factor, cho_solve

    n = x.size
    ddt = 2 * np.eye(n - 1) - np.eye(n - 1, k=1) - np.eye(n - 1, k=-1)
    dx = x[:-1] - x[1:]
    u = x.copy()
    for _ in range(iterations):
        h = ddt + np.diag(np.abs(u[:-1] - u[1:]) / lam)
        w = cho_solve(cho_factor(h), dx)
        u = x.copy()
        u[1:] += w
        u[:-1] -= w
    return u


IRLS_CASES = [(1_000, 100), (1_000_000, 10)]  # (n, iterations timed)


@pytest.mark.parametrize("impl", ["optkern", "optkern-1t", "scipy-banded", "dense-cholesky"])
@pytest.mark.parametrize(("n", "iterations"), IRLS_CASES, ids=[f"n{n}" for n, _ in IRLS_CASES])
def test_irls(benchmark, report, machine, n, iterations, impl):
    x, lam, exact = problem(1, n, "blocks", 0.1)
    x1, lam1 = x[0], float(lam[0])
    threads = optkern.get_num_threads()
    if impl == "dense-cholesky":
        if n > 5_000:
            pytest.skip("a dense (n-1)^2 matrix per iteration: 8 TB at n = 1e6")
        run, threads = functools.partial(irls_dense_cholesky, x1, lam1, iterations), 1
    elif impl == "scipy-banded":
        run, threads = functools.partial(irls_banded, x1, lam1, iterations), 1
    else:
        run = functools.partial(denoise, x1, lam1, method="irls", tol=1e-300, max_iter=iterations)
        if impl == "optkern-1t":
            run, threads = with_threads(1, run), 1
    result = run()
    reference = irls_banded(x1, lam1, iterations)  # the same iterates
    assert np.abs(result - reference).max() <= 1e-6 * (np.abs(x1).max() + lam1)
    distance = np.abs(result - exact[0]).max()
    benchmark.group = f"tv irls n={n:.0e}"
    slow = n > 10_000 or impl == "dense-cholesky"  # the latter: ~0.1 s per iteration
    benchmark.pedantic(run, rounds=2 if slow else 10, warmup_rounds=0, iterations=1)
    # ~10 cycles per sample and iteration (a division and an FMA chain); past the last-level
    # cache, the ~72 bytes each sample moves per iteration at the measured bandwidth
    limit = threads * 3e8
    if 40 * n > machine.l3_bytes:
        limit = min(limit, machine.read_gbs * 1e9 / 72)
    report(benchmark.group, impl, n * iterations / 1e6, "Msamples*it/s", limit=limit / 1e6,
           baseline="scipy-banded", note=f"max|u-y*| {distance:.1e} after {iterations} it")


# --- GPU ------------------------------------------------------------------------------------------


def gpu_arrays(*arrays):
    if not optkern.cuda_available():
        pytest.skip("needs a CUDA device")
    try:
        import torch

        if torch.cuda.is_available():
            return [torch.from_numpy(np.ascontiguousarray(a)).cuda() for a in arrays], \
                torch.cuda.synchronize
    except ImportError:
        pass
    cupy = pytest.importorskip("cupy")
    return [cupy.asarray(a) for a in arrays], cupy.cuda.Device().synchronize


def to_host(a):
    return a.cpu().numpy() if hasattr(a, "cpu") else a.get()


@pytest.mark.parametrize("impl", ["optkern-cuda", "optkern-cuda-staged", "optkern-cuda-direct",
                                  "optkern-cpu"])
@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("batch", "n"), BATCHES, ids=[f"{b}x{n}" for b, n in BATCHES])
def test_gpu(benchmark, report, machine, batch, n, dtype, direction, impl):
    from optkern.tv import _cuda as _tv_cuda

    x, lam, expected = problem(batch, n, "walk", 0.1)
    x, lam = x.astype(dtype), lam
    expected = denoise(x, lam)
    g = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    itemsize = np.dtype(dtype).itemsize
    if impl == "optkern-cpu":
        sync = to = None
        if direction == "forward":
            run = functools.partial(denoise, x, lam)
        else:
            run = functools.partial(denoise_vjp, expected, g, lam)
        limit = exact_limit(machine, itemsize, optkern.get_num_threads())
    else:
        (dx, dlam, dy, dg), sync = gpu_arrays(x, lam, expected, g)
        mapping = {"optkern-cuda": "auto", "optkern-cuda-staged": "staged",
                   "optkern-cuda-direct": "direct"}[impl]
        staged_bytes = 32 * (n | 1) * itemsize * (1 if direction == "forward" else 2)
        if mapping == "staged" and staged_bytes > 160_000:
            pytest.skip("too long to stage on this device")

        def run():
            if direction == "forward":
                out = _tv_cuda.denoise(dx, dlam, "exact", 1e-6, 1, False, mapping=mapping)
            else:
                out = _tv_cuda.denoise_vjp(dy, dg, dlam, None, mapping=mapping)
            sync()
            return out
        to = to_host
        bytes_per_sample = (2 if direction == "forward" else 3) * itemsize
        limit = machine.gpu["read_gbs"] * 1e9 / bytes_per_sample / 1e6 if machine.gpu else None
    out = run()
    if direction == "forward":
        got = to(out) if to else out
        assert np.abs(got - expected).max() <= 1e-4 * (np.abs(x).max() + lam.max())
    else:
        want = denoise_vjp(expected, g, lam)[0]
        got = to(out[0]) if to else out[0]
        assert np.abs(got - want).max() <= 1e-4 * (1 + np.abs(want).max())
    benchmark.group = f"tv gpu {direction} {batch}x{n} {dtype}"
    benchmark.pedantic(run, rounds=20, warmup_rounds=2, iterations=1)
    report(benchmark.group, impl, batch * n / 1e6, "Msamples/s", limit=limit,
           baseline="optkern-cpu")
