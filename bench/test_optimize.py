"""L-BFGS: optkern against SciPy's L-BFGS-B and torch.optim.LBFGS(line_search_fn="strong_wolfe").

Every implementation minimises the same objective from the same start with m = 10 and the
same stopping test (max |g| <= 1e-5, no f-based test: SciPy ftol=0, torch tolerance_change=0),
on the problem set at n = 100, 1000, 10000 (at most MAX_ITER iterations). SciPy runs with
one OpenBLAS thread (threadpoolctl; with the default two threads its small vector operations
are about 10x slower here), torch with one thread.

* optkern-native: the problem in C++, nothing but C++ in the loop;
* optkern-python, scipy, torch: the same objective called from Python (the native problem's
  Python entry point, whose cost is measured and subtracted), so they differ only in what the
  optimiser itself costs per iteration.

Each case checks its result (convergence, or the same f as SciPy when capped) before it is
timed. The summary reports iterations per second and, in the note, evaluations, iterations
and microseconds per iteration net of the objective. The batch group solves 10,000
Rosenbrock problems (n = 8) against a Python loop over scipy.optimize.minimize.
"""

from __future__ import annotations

import functools
import time

import numpy as np
import pytest

import optkern
from optkern.optimize import minimize, minimize_batch, problems

scipy_optimize = pytest.importorskip("scipy.optimize")
threadpoolctl = pytest.importorskip("threadpoolctl")

SIZES = [100, 1000, 10000]
NAMES = list(problems.ALL)
IMPLS = ["optkern-native", "optkern-python", "scipy", "torch"]
GTOL = 1e-5
MAX_ITER = 3000


def problem(name: str, n: int) -> problems.Problem:
    return problems.get(name, n)


@functools.cache
def objective_seconds(name: str, n: int, native: bool) -> float:
    """The cost of one evaluation: in C++ (a batch of rows evaluated in one call, one
    thread), or through the Python entry point that the Python-side optimisers call."""
    p = problem(name, n)
    x = p.x0
    if native:
        rows = max(1, 200_000 // n)
        xs = np.tile(x, (rows, 1))
        old = optkern.set_num_threads(1)
        try:
            best = min(_timed(lambda: p(xs)) for _ in range(5))
        finally:
            optkern.set_num_threads(old)
        return best / rows
    calls = max(20, 200_000 // n)

    def many():
        for _ in range(calls):
            p(x)

    return min(_timed(many) for _ in range(5)) / calls


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@functools.cache
def _torch():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


def runner(impl: str, p: problems.Problem):
    """A function running one minimisation and returning (x, f, nit, nfev)."""
    x0 = p.x0
    if impl == "optkern-native":
        def run():
            r = minimize(p, x0, gtol=GTOL, ftol=0.0, max_iter=MAX_ITER, max_fev=2 * MAX_ITER)
            return r.x, r.fun, r.nit, r.nfev
    elif impl == "optkern-python":
        fun = p.__call__

        def run():
            r = minimize(fun, x0, gtol=GTOL, ftol=0.0, max_iter=MAX_ITER, max_fev=2 * MAX_ITER)
            return r.x, r.fun, r.nit, r.nfev
    elif impl == "scipy":
        def run():
            with threadpoolctl.threadpool_limits(1):
                r = scipy_optimize.minimize(
                    p, x0, jac=True, method="L-BFGS-B",
                    options=dict(gtol=GTOL, ftol=0.0, maxiter=MAX_ITER, maxfun=2 * MAX_ITER,
                                 maxcor=10))
            return r.x, r.fun, r.nit, r.nfev
    else:
        torch = _torch()
        if torch is None:
            pytest.skip("torch is not installed")

        def run():
            x = torch.tensor(x0, requires_grad=True)
            opt = torch.optim.LBFGS([x], lr=1, max_iter=MAX_ITER, max_eval=2 * MAX_ITER,
                                    tolerance_grad=GTOL, tolerance_change=0.0, history_size=10,
                                    line_search_fn="strong_wolfe")
            count = [0]

            def closure():
                count[0] += 1
                f, g = p(x.detach().numpy())
                x.grad = torch.from_numpy(g)
                return torch.tensor(float(f), dtype=torch.float64)

            opt.step(closure)
            xs = x.detach().numpy()
            return xs, float(p.fun(xs)), int(opt.state[opt._params[0]]["n_iter"]), count[0]
    return run


@functools.cache
def scipy_reference(name: str, n: int):
    return runner("scipy", problem(name, n))()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", NAMES)
def test_lbfgs(benchmark, report, name, n, impl):
    p = problem(name, n)
    run = runner(impl, p)
    x, f, nit, nfev = run()
    x_ref, f_ref, nit_ref, _ = scipy_reference(name, n)
    gnorm = np.abs(p.grad(x)).max()
    capped = nit >= MAX_ITER or nit_ref >= MAX_ITER
    if not capped:  # both converged: the same minimum
        assert gnorm <= 1.01 * GTOL or impl == "torch", gnorm
        assert f <= f_ref + 1e-6 * max(1.0, abs(f_ref)) or abs(f - f_ref) < 1e-8
    else:  # capped: f still went down from the start
        assert f < p.fun(p.x0)

    rounds = 1 if nit * n > 2e7 or impl == "torch" else 3
    benchmark.group = f"L-BFGS {name} n={n}"
    benchmark.pedantic(run, rounds=rounds, warmup_rounds=0, iterations=1)
    seconds = benchmark.stats.stats.min
    t_obj = objective_seconds(name, n, native=impl == "optkern-native")
    net_us = max(seconds - nfev * t_obj, 0.0) / max(nit, 1) * 1e6
    note = (f"nfev {nfev:6d}  nit {nit:6d}{'*' if nit >= MAX_ITER else ' '}  "
            f"{net_us:8.2f} us/it net of f")
    report(benchmark.group, impl, nit, "it/s", baseline="scipy", note=note)


# --- batches of small problems ----------------------------------------------------------------

BATCH, BATCH_N = 10_000, 8


@functools.lru_cache(maxsize=1)
def batch_starts() -> np.ndarray:
    return problems.rosenbrock(BATCH_N).x0 + np.random.default_rng(0).standard_normal(
        (BATCH, BATCH_N))


def numpy_rosenbrock(x):
    """The batched objective a NumPy user would write (rows are problems)."""
    t = x[:, 1:] - x[:, :-1] ** 2
    u = 1 - x[:, :-1]
    f = np.sum(100 * t * t + u * u, axis=1)
    g = np.zeros_like(x)
    g[:, :-1] = -400 * x[:, :-1] * t - 2 * u
    g[:, 1:] += 200 * t
    return f, g


@pytest.mark.parametrize("impl", ["optkern-native", "optkern-python", "optkern-cuda",
                                  "scipy-loop"])
def test_batch_rosenbrock(benchmark, report, impl):
    x0 = batch_starts()
    p = problems.rosenbrock(BATCH_N)
    if impl == "optkern-native":
        def run():
            return minimize_batch(p, x0)
    elif impl == "optkern-python":
        def run():
            return minimize_batch(numpy_rosenbrock, x0)
    elif impl == "optkern-cuda":
        if not optkern.cuda_available():
            pytest.skip("needs a CUDA device")

        def run():
            return minimize_batch(p, x0, device="cuda")
    else:  # what a SciPy user writes: a Python loop over scipy.optimize.minimize
        def run():
            with threadpoolctl.threadpool_limits(1):
                return [scipy_optimize.minimize(p, x, jac=True, method="L-BFGS-B") for x in x0]

    result = run()
    if impl == "scipy-loop":
        x = np.array([r.x for r in result])
        assert np.mean([r.success for r in result]) > 0.99
    else:
        x = np.asarray(result.x)
        assert result.success.mean() > 0.99
    # Most problems end at the global minimum (1, ..., 1); the rest (about a fifth of these
    # starts: 79.6% reach it with optkern, stopping mostly on the relative decrease of f as
    # L-BFGS-B does) at the local minimum near (-1, 1, 1, ...).
    near_ones = np.abs(x - 1).max(axis=1) < 1e-2
    assert near_ones.mean() > 0.7
    benchmark.group = f"L-BFGS batch: {BATCH} Rosenbrock problems, n={BATCH_N}"
    benchmark.pedantic(run, rounds=1 if impl == "scipy-loop" else 3, warmup_rounds=0,
                       iterations=1)
    threads = "1 thread" if impl in ("scipy-loop", "optkern-cuda") else (
        f"{optkern.get_num_threads()} threads")
    report(benchmark.group, impl, BATCH, "problems/s", baseline="scipy-loop", note=threads)
