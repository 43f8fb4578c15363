"""Sinkhorn: optkern against POT (kernel and log domain), the backward against a dense KKT solve
and unrolled autodiff in torch, and the CUDA kernels against a torch-on-GPU Sinkhorn.

Workload: 2-D point clouds (benchopt's), squared-Euclidean cost normalised to [0, 1], uniform
marginals. Every case first checks that its plan (or gradient) matches a float64 reference.

Forward groups run a fixed number of iterations (tol=0), the same for every implementation of
a group, so the ratio column compares equal work; the note gives each implementation's
iteration time with its setup removed (from runs of N and 2N iterations) and the fraction of
the one-pass roofline (bytes of K, or of M, per iteration over the measured read bandwidth).

    python -m pytest bench/test_sinkhorn.py --benchmark-only [-k "n1000"]
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from sinkhorn_peers import (
    best_time,
    kkt_vjp_dense,
    peak_memory_mb,
    point_cloud_cost,
    torch_gpu_plain,
    torch_unrolled_grad,
)

import optkern

SIZES = [256, 1000, 4000]
REGS = [0.05, 0.01, 0.001]
DTYPES = ["float64", "float32"]
# Iterations per timed call: the same for every implementation of a group.
PLAIN_ITERS = {256: 400, 1000: 100, 4000: 30}
LOG_ITERS = {256: 40, 1000: 8, 4000: 3}


def _pot():
    try:
        import ot
    except ImportError:
        pytest.skip("POT is not installed (pip install pot)")
    return ot


def _torch():
    try:
        import torch
    except ImportError:
        pytest.skip("torch is not installed")
    return torch


def _blas_threads(n_threads):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pytest.skip("threadpoolctl is not installed")
    return threadpool_limits(limits=n_threads, user_api="blas")


@functools.lru_cache(maxsize=4)
def cost(n: int, dtype: str) -> np.ndarray:
    return point_cloud_cost(n).astype(dtype)


@functools.lru_cache(maxsize=16)
def reference_plan(n: int, reg: float) -> np.ndarray:
    return optkern.ot.sinkhorn(cost(n, "float64"), reg=reg, method="log", tol=1e-12,
                               max_iter=100000).plan


def forward(impl: str, M: np.ndarray, reg: float, n_iter: int, tol: float = 0.0):
    """A callable running `impl` for n_iter iterations (or to tol), returning its plan."""
    n = M.shape[0]
    if impl.startswith("optkern"):
        method = impl.split("-")[1]
        return lambda: optkern.ot.sinkhorn(M, reg=reg, method=method, tol=tol,
                                           max_iter=n_iter).plan
    ot = _pot()
    w = np.full(n, 1.0 / n, M.dtype)
    method = "sinkhorn_log" if "log" in impl else "sinkhorn"
    threads = 1 if impl.endswith("1t") else 2

    def run():
        with _blas_threads(threads):
            return ot.sinkhorn(w, w, M, reg, method=method, numItermax=n_iter,
                               stopThr=tol, warn=False)

    return run


def check_plan(P: np.ndarray, n: int, reg: float, dtype: str, converged: bool) -> None:
    assert np.all(np.isfinite(P)), "the plan has NaN or Inf"
    if converged:
        tol = 1e-6 if dtype == "float32" else 1e-8
        assert np.abs(P - reference_plan(n, reg)).max() <= tol * n * P.max() + 1e-12
    else:  # a few iterations from the start: still a plan with the right column sums
        assert abs(P.sum() - 1) < 1e-3


def iteration_time(run_n, run_2n, n_iter: int) -> float:
    """Seconds per iteration with the setup removed."""
    return max(best_time(run_2n) - best_time(run_n), 1e-12) / n_iter


def plain_viable(reg: float, dtype: str) -> bool:
    return 1.0 / reg <= (80 if dtype == "float32" else 300)


@pytest.mark.parametrize("impl", ["optkern-plain", "pot-sinkhorn-1t", "pot-sinkhorn-2t"])
@pytest.mark.parametrize("reg", REGS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES, ids=[f"n{n}" for n in SIZES])
def test_plain_iteration(benchmark, report, machine, n, dtype, reg, impl):
    """The kernel-domain iteration: one pass over K (optkern) against POT's two products."""
    if impl.startswith("optkern") and not plain_viable(reg, dtype):
        pytest.skip("exp(-M/reg) underflows in this dtype: optkern takes the log domain")
    M = cost(n, dtype)
    n_iter = PLAIN_ITERS[n]
    P = forward(impl, M, reg, n_iter)()
    if not np.all(np.isfinite(P)):
        pytest.skip(f"{impl} returns NaN/Inf at reg={reg} (underflow of exp(-M/reg))")
    if not impl.startswith("optkern") and abs(P.sum() - 1) >= 1e-3:
        # POT's kernel-domain Sinkhorn in float32 at reg=0.001: K underflows to zero in most
        # entries and the plan silently loses its mass (measured: total mass 0.016).
        pytest.skip(f"{impl} returns a plan of total mass {P.sum():.3g}, not 1 (underflow)")
    check_plan(P, n, reg, dtype, converged=False)
    benchmark.group = f"sinkhorn plain iteration n={n} {dtype} reg={reg} ({n_iter} it)"
    benchmark.pedantic(forward(impl, M, reg, n_iter), rounds=3, warmup_rounds=1)
    per_it = iteration_time(forward(impl, M, reg, n_iter), forward(impl, M, reg, 2 * n_iter),
                            n_iter)
    gb = M.nbytes / 1e9  # one pass over K per iteration is the floor for every implementation
    report(benchmark.group, impl, n_iter * gb, "GB/s", limit=machine.read_gbs,
           baseline="pot-sinkhorn-1t",
           note=f"{per_it * 1e3:8.3f} ms/it, "
                f"{gb / per_it / machine.read_gbs:6.1%} of one-pass roofline")


@pytest.mark.parametrize("impl", ["optkern-log", "pot-sinkhorn_log"])
@pytest.mark.parametrize("reg", REGS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES, ids=[f"n{n}" for n in SIZES])
def test_log_iteration(benchmark, report, machine, n, dtype, reg, impl):
    """The log-domain iteration: fused log-sum-exp with one vectorised exp per entry."""
    M = cost(n, dtype)
    n_iter = LOG_ITERS[n]
    P = forward(impl, M, reg, n_iter)()
    check_plan(P, n, reg, dtype, converged=False)
    benchmark.group = f"sinkhorn log iteration n={n} {dtype} reg={reg} ({n_iter} it)"
    benchmark.pedantic(forward(impl, M, reg, n_iter), rounds=2, warmup_rounds=1)
    per_it = iteration_time(forward(impl, M, reg, n_iter), forward(impl, M, reg, 2 * n_iter),
                            n_iter)
    gb = M.nbytes / 1e9
    report(benchmark.group, impl, n_iter * n * n / 1e9, "Gentry/s", baseline="pot-sinkhorn_log",
           note=f"{per_it * 1e3:8.3f} ms/it, "
                f"{gb / per_it / machine.read_gbs:6.1%} of one-pass roofline")


@pytest.mark.parametrize("impl", ["optkern-auto", "pot-sinkhorn-1t", "pot-sinkhorn-2t",
                                  "pot-sinkhorn_log"])
@pytest.mark.parametrize("reg", [0.05, 0.01])
@pytest.mark.parametrize("n", [256, 1000], ids=["n256", "n1000"])
def test_to_tolerance(benchmark, report, n, reg, impl):
    """To tol = 1e-9 (optkern: max-norm marginal violation; POT: its 2-norm), float64."""
    M = cost(n, "float64")
    run = forward(impl, M, reg, 100000, tol=1e-9)
    P = run()
    if not np.all(np.isfinite(P)):
        pytest.skip(f"{impl} returns NaN/Inf at reg={reg}")
    check_plan(P, n, reg, "float64", converged=True)
    iters = optkern.ot.sinkhorn(M, reg=reg).n_iter
    benchmark.group = f"sinkhorn to tol=1e-9 n={n} float64 reg={reg}"
    benchmark.pedantic(run, rounds=3 if best_time(run, 1) < 2 else 1)
    report(benchmark.group, impl, 1.0, "solves/s", baseline="pot-sinkhorn-1t",
           note=f"(optkern: {iters} iterations)")


BACKWARD_SIZES = [100, 300, 1000]
BACKWARD_REG = 0.05


@functools.lru_cache(maxsize=4)
def backward_case(n: int):
    M = cost(n, "float64")
    res = optkern.ot.sinkhorn(M, reg=BACKWARD_REG, tol=1e-9)
    W = np.cos(np.arange(n * n)).reshape(n, n)
    expected = optkern.ot.sinkhorn_vjp(res.plan, W, BACKWARD_REG)[0]
    return M, res, W, expected


@pytest.mark.parametrize("impl", ["optkern-block-cholesky", "dense-kkt", "torch-unrolled-kernel",
                                  "torch-unrolled-log", "optkern-200-plain-iterations"])
@pytest.mark.parametrize("n", BACKWARD_SIZES, ids=[f"n{n}" for n in BACKWARD_SIZES])
def test_backward(benchmark, report, n, impl):
    """dL/dM for L = <W, P>: implicit (block Cholesky, or the dense (m+n-1) KKT solve) after a
    converged forward, against autodiff through the iterations the forward needed. The last
    row times 200 forward iterations, the yardstick of the issue."""
    M, res, W, expected = backward_case(n)
    P, iters = res.plan, res.n_iter
    if impl == "optkern-block-cholesky":
        run = lambda: optkern.ot.sinkhorn_vjp(P, W, BACKWARD_REG)[0]  # noqa: E731
        call = "optkern.ot.sinkhorn_vjp(P, W, reg)"
    elif impl == "dense-kkt":
        run = lambda: kkt_vjp_dense(P, W, BACKWARD_REG)[0]  # noqa: E731
        call = "kkt_vjp_dense(P, W, reg)"
    elif impl.startswith("torch"):
        _torch()
        domain = impl.split("-")[-1]
        run = lambda: torch_unrolled_grad(M, BACKWARD_REG, iters, W, domain)  # noqa: E731
        call = f"torch_unrolled_grad(M, reg, {iters}, W, {domain!r})"
    else:
        run = lambda: optkern.ot.sinkhorn(M, reg=BACKWARD_REG, tol=0, max_iter=200,  # noqa: E731
                                          method="plain")
        call = "optkern.ot.sinkhorn(M, reg=reg, tol=0, max_iter=200, method='plain')"
    if impl != "optkern-200-plain-iterations":
        got = run()
        assert np.abs(got - expected).max() <= 1e-6 * np.abs(expected).max()
    def operands(k):
        return (f"n = {k}; reg = {BACKWARD_REG}; M = point_cloud_cost(n); "
                f"W = np.cos(np.arange(n * n)).reshape(n, n); "
                f"P = optkern.ot.sinkhorn(M, reg=reg, tol=1e-9).plan")

    # a warm-up call on a tiny problem first: libraries allocate once on first use
    memory = peak_memory_mb(f"{operands(8)}; {call}; {operands(n)}", call)
    benchmark.group = f"sinkhorn backward m=n={n} float64 reg={BACKWARD_REG} ({iters} it to tol)"
    benchmark.pedantic(run, rounds=3 if n < 1000 else 2, warmup_rounds=1)
    report(benchmark.group, impl, 1.0, "grads/s", baseline="torch-unrolled-log",
           note=f"peak +{memory:8.1f} MB")


GPU_SIZES = [4096, 16384]


@pytest.mark.parametrize("impl", ["optkern-cuda-plain", "torch-cuda-plain", "optkern-cuda-log"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", GPU_SIZES, ids=[f"n{n}" for n in GPU_SIZES])
def test_gpu_iteration(benchmark, report, machine, n, dtype, impl):
    """One large problem on the GPU: optkern's fused kernel (one pass over K per iteration)
    against torch's two matrix-vector products, at reg = 0.05 (plain is viable)."""
    if not optkern.cuda_available():
        pytest.skip("needs a CUDA device")
    torch = _torch()
    if not torch.cuda.is_available():
        pytest.skip("needs torch with CUDA for the comparison")
    reg, n_iter = 0.05, 50
    M = torch.from_numpy(cost(n, dtype)).cuda()

    if impl == "torch-cuda-plain":
        def run():
            return torch_gpu_plain(M, reg, n_iter)
    else:
        method = impl.split("-")[-1]

        def run():
            plan = optkern.ot.sinkhorn(M, reg=reg, method=method, tol=0, max_iter=n_iter,
                                       device="cuda").plan
            torch.cuda.synchronize()
            return plan

    P = run().cpu().numpy()
    assert np.all(np.isfinite(P)) and abs(P.sum() - 1) < 1e-3
    benchmark.group = f"sinkhorn GPU n={n} {dtype} reg={reg} ({n_iter} it)"
    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    half = n_iter // 2

    def run_half():
        if impl == "torch-cuda-plain":
            return torch_gpu_plain(M, reg, half)
        plan = optkern.ot.sinkhorn(M, reg=reg, method=impl.split("-")[-1], tol=0,
                                   max_iter=half, device="cuda").plan
        torch.cuda.synchronize()
        return plan

    per_it = iteration_time(run_half, run, n_iter - half)
    gb = n * n * np.dtype(dtype).itemsize / 1e9
    hbm = machine.gpu["read_gbs"] if machine.gpu else None
    note = f"{per_it * 1e3:8.3f} ms/it"
    if hbm:
        note += f", {gb / per_it / hbm:6.1%} of HBM (one pass over K per iteration)"
    report(benchmark.group, impl, n_iter * gb, "GB/s", limit=hbm, baseline="torch-cuda-plain",
           note=note)
