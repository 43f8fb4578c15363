"""Issue 16's OT features against their peers, side by side in one run: POT's sinkhorn2 loss,
the Sinkhorn divergence (POT, GeomLoss), unbalanced OT (POT), epsilon-scaling (iteration
counts), point clouds without a cost matrix (POT's lazy empirical_sinkhorn, GeomLoss's
tensorized backend), and the small-n plain iteration (POT).

Every case first checks its result against optkern's dense solver or the peer. Sizes are
kept small enough for a 2-core machine; ``OPTKERN_BENCH_LARGE=1`` adds the issue's larger
sizes (point clouds of 10,000).

    python -m pytest bench/test_ot_losses.py --benchmark-only
"""

from __future__ import annotations

import functools
import os

import numpy as np
import pytest
from sinkhorn_peers import best_time, point_cloud_cost

import optkern

LARGE = os.environ.get("OPTKERN_BENCH_LARGE") == "1"


def _pot():
    return pytest.importorskip("ot")


def _geomloss():
    pytest.importorskip("torch")
    return pytest.importorskip("geomloss")


@functools.lru_cache(maxsize=8)
def clouds(m: int, n: int, d: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, d))
    y = rng.normal(size=(n, d)) * 0.8 + 0.5
    return x, y


# --- sinkhorn2: value, and value with gradient --------------------------------------------------


@pytest.mark.parametrize("impl", ["optkern", "pot-sinkhorn", "pot-sinkhorn_log"])
@pytest.mark.parametrize("n", [200, 500])
def test_sinkhorn2(benchmark, report, n, impl):
    ot = _pot()
    M = point_cloud_cost(n)
    reg = 0.05
    w = np.full(n, 1.0 / n)
    expected = optkern.ot.sinkhorn2(M, reg=reg, tol=1e-12, max_iter=100000)
    if impl == "optkern":
        def run():
            return optkern.ot.sinkhorn2(M, reg=reg, tol=1e-9)
    else:
        method = impl.split("-")[1]

        def run():
            return float(ot.sinkhorn2(w, w, M, reg, method=method, stopThr=1e-9,
                                      numItermax=100000))
    assert run() == pytest.approx(expected, rel=1e-6)
    benchmark.group = f"sinkhorn2 value n={n} reg={reg} tol=1e-9"
    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    report(benchmark.group, impl, 1.0, "solves/s", baseline="pot-sinkhorn")


@pytest.mark.parametrize("impl", ["optkern-implicit", "pot-torch-autodiff"])
@pytest.mark.parametrize("n", [200, 500])
def test_sinkhorn2_gradient(benchmark, report, n, impl):
    """The value and dL/dM: optkern's implicit backward against POT's default (autodiff
    through its iterations, torch backend)."""
    ot = _pot()
    torch = pytest.importorskip("torch")
    M = point_cloud_cost(n)
    reg = 0.05
    _, (expected, _, _) = optkern.ot.sinkhorn2(M, reg=reg, tol=1e-12, return_grad=True)
    if impl == "optkern-implicit":
        def run():
            return optkern.ot.sinkhorn2(M, reg=reg, tol=1e-9, return_grad=True)[1][0]
    else:
        w = torch.full((n,), 1.0 / n, dtype=torch.float64)

        def run():
            Mt = torch.tensor(M, requires_grad=True)
            ot.sinkhorn2(w, w, Mt, reg, stopThr=1e-9, numItermax=100000).backward()
            return Mt.grad.numpy()
    assert np.abs(run() - expected).max() <= 1e-5 * np.abs(expected).max()
    benchmark.group = f"sinkhorn2 value + gradient n={n} reg={reg}"
    benchmark.pedantic(run, rounds=2, warmup_rounds=1)
    report(benchmark.group, impl, 1.0, "solves/s", baseline="pot-torch-autodiff")


# --- Sinkhorn divergence ------------------------------------------------------------------------


@pytest.mark.parametrize("impl", ["optkern-linear", "pot-linear", "optkern-entropic",
                                  "geomloss-entropic"])
@pytest.mark.parametrize("n", [200, 500])
def test_divergence(benchmark, report, n, impl):
    """POT's empirical_sinkhorn_divergence (linear) and GeomLoss's SamplesLoss (entropic,
    p = 2, blur = sqrt(reg / 2), scaling 0.95: its schedule has no convergence test) against
    optkern to tol 1e-9."""
    x, y = clouds(n, n)
    reg = 0.1
    loss = impl.split("-")[1]
    expected = optkern.ot.sinkhorn_divergence(x, y, reg=reg, loss=loss, tol=1e-12)
    if impl.startswith("optkern"):
        def run():
            return optkern.ot.sinkhorn_divergence(x, y, reg=reg, loss=loss, tol=1e-9)
        rtol = 1e-6
    elif impl == "pot-linear":
        ot = _pot()

        def run():
            return float(ot.bregman.empirical_sinkhorn_divergence(x, y, reg, stopThr=1e-9,
                                                                  numIterMax=100000))
        rtol = 1e-5
    else:
        geomloss = _geomloss()
        import torch

        L = geomloss.SamplesLoss("sinkhorn", p=2, blur=np.sqrt(reg / 2), scaling=0.95,
                                 debias=True, backend="tensorized")
        xt, yt = torch.tensor(x), torch.tensor(y)

        def run():
            return 2 * L(xt, yt).item()
        rtol = 1e-3
    got = run()
    if got != pytest.approx(expected, rel=rtol):
        if impl.startswith("optkern"):
            raise AssertionError(f"optkern: {got} against {expected}")
        pytest.skip(f"{impl} gives {got}, optkern converged {expected}")
    benchmark.group = f"sinkhorn divergence n={n} d=3 reg={reg}"
    benchmark.pedantic(run, rounds=2, warmup_rounds=1)
    report(benchmark.group, impl, 1.0, "solves/s", baseline="pot-linear")


# --- unbalanced ---------------------------------------------------------------------------------


@pytest.mark.parametrize("impl", ["optkern-plain", "optkern-log", "pot-sinkhorn",
                                  "pot-sinkhorn_stabilized"])
@pytest.mark.parametrize("reg", [0.1, 0.01])
@pytest.mark.parametrize("n", [200, 1000])
def test_unbalanced(benchmark, report, n, reg, impl):
    ot = _pot()
    M = point_cloud_cost(n)
    rng = np.random.default_rng(1)
    a, b = np.full(n, 1.0 / n), rng.random(n) * 2 / n
    expected = optkern.ot.sinkhorn_unbalanced(M, a, b, reg=reg, reg_m=1.0, tol=1e-13,
                                              max_iter=100000, method="log").plan
    if impl.startswith("optkern"):
        method = impl.split("-")[1]

        def run():
            return optkern.ot.sinkhorn_unbalanced(M, a, b, reg=reg, reg_m=1.0, tol=1e-9,
                                                  method=method).plan
    else:
        method = impl.split("-")[1]

        def run():
            return ot.unbalanced.sinkhorn_unbalanced(a, b, M, reg, 1.0, method=method,
                                                     stopThr=1e-9, numItermax=100000)
    P = run()
    if not np.all(np.isfinite(P)):
        pytest.skip(f"{impl} returns NaN/Inf at reg={reg}")
    if np.abs(P - expected).max() > 1e-6 * expected.max():
        if impl.startswith("optkern"):
            raise AssertionError("optkern's plan is off")
        pytest.skip(f"{impl} stops {np.abs(P - expected).max() / expected.max():.1e} "
                    f"(relative) away from the converged plan at tol 1e-9")
    iters = optkern.ot.sinkhorn_unbalanced(M, a, b, reg=reg, reg_m=1.0, tol=1e-9).n_iter
    benchmark.group = f"sinkhorn_unbalanced n={n} reg={reg} reg_m=1 tol=1e-9"
    benchmark.pedantic(run, rounds=2, warmup_rounds=1)
    report(benchmark.group, impl, 1.0, "solves/s", baseline="pot-sinkhorn",
           note=f"(optkern: {iters} iterations)")


# --- epsilon-scaling ----------------------------------------------------------------------------


@pytest.mark.parametrize("impl", ["optkern-log-cold", "optkern-eps0.5", "optkern-eps0.8",
                                  "pot-sinkhorn_epsilon_scaling"])
@pytest.mark.parametrize("n", [300, 1000])
def test_eps_scaling(benchmark, report, n, impl):
    """reg = 1e-3 max|M| to tol = 1e-6 (marginal error relative to the mass): iterations and
    time. POT's epsilon scaling runs its own schedule (inner stabilized iterations)."""
    M = point_cloud_cost(n)
    reg = 1e-3 * M.max()
    if impl.startswith("pot"):
        ot = _pot()
        w = np.full(n, 1.0 / n)

        def run():
            return ot.bregman.sinkhorn_epsilon_scaling(w, w, M, reg, stopThr=1e-6,
                                                       numItermax=100000, warn=False)
        iters = "n/a"
    else:
        factor = None if "cold" in impl else float(impl.split("eps")[1])

        def run():
            return optkern.ot.sinkhorn(M, reg=reg, method="log", tol=1e-6, max_iter=100000,
                                       eps_scaling=factor).plan
        res = optkern.ot.sinkhorn(M, reg=reg, method="log", tol=1e-6, max_iter=100000,
                                  eps_scaling=factor)
        assert res.converged
        iters = res.n_iter
    P = run()
    assert np.abs(P.sum(1) - 1 / n).max() <= 2e-6
    benchmark.group = f"eps-scaling n={n} reg=1e-3 max|M| tol=1e-6"
    benchmark.pedantic(run, rounds=1)
    report(benchmark.group, impl, 1.0, "solves/s", baseline="optkern-log-cold",
           note=f"{iters} iterations")


# --- point clouds without a cost matrix ---------------------------------------------------------

POINT_SIZES = [2000] + ([10000] if LARGE else [])
POINT_ITERS = 10


@pytest.mark.parametrize("impl", ["optkern-points", "optkern-dense-log", "pot-empirical-lazy",
                                  "geomloss-tensorized"])
@pytest.mark.parametrize("n", POINT_SIZES)
def test_points_iteration(benchmark, report, n, impl):
    """Time per iteration (runs of N and 2N iterations, setup removed), d = 3, reg = 0.1,
    squared Euclidean cost. GeomLoss: one iteration of its schedule is one symmetric update of
    all four potentials (a and b sides of the three problems are not separable; its whole
    debiased loss at 1 + N steps is timed, for its own per-step cost)."""
    x, y = clouds(n, n)
    reg = 0.1
    if impl == "optkern-points":
        def make(k):
            return lambda: optkern.ot.sinkhorn_points(x, y, reg=reg, tol=0, max_iter=k).f
    elif impl == "optkern-dense-log":
        M = ((x[:, None] - y[None]) ** 2).sum(-1)

        def make(k):
            return lambda: optkern.ot.sinkhorn(M, reg=reg, method="log", tol=0,
                                               max_iter=k).f
    elif impl == "pot-empirical-lazy":
        ot = _pot()

        def make(k):
            return lambda: ot.bregman.empirical_sinkhorn(x, y, reg, isLazy=True,
                                                         batchSize=500, numIterMax=k,
                                                         stopThr=0, log=False, warn=False)
    else:
        geomloss = _geomloss()
        import torch

        xt, yt = torch.tensor(x), torch.tensor(y)

        def make(k):
            # diameter = blur: a schedule of (about) k + 2 steps at the target epsilon
            scaling = 0.5 ** (1.0 / k)
            L = geomloss.SamplesLoss("sinkhorn", p=2, blur=np.sqrt(reg / 2),
                                     diameter=np.sqrt(reg / 2) * 2, scaling=scaling,
                                     debias=False, backend="tensorized")
            return lambda: L(xt, yt).item()
    per_it = max(best_time(make(2 * POINT_ITERS), 1) - best_time(make(POINT_ITERS), 1),
                 1e-9) / POINT_ITERS
    benchmark.group = f"point clouds n=m={n} d=3 reg={reg} ({POINT_ITERS} it)"
    benchmark.pedantic(make(POINT_ITERS), rounds=1)
    report(benchmark.group, impl, 1.0, "runs/s", baseline="pot-empirical-lazy",
           note=f"{per_it * 1e3:9.2f} ms/it")


def test_points_match_dense():
    x, y = clouds(300, 200)
    M = ((x[:, None] - y[None]) ** 2).sum(-1)
    res = optkern.ot.sinkhorn_points(x, y, reg=0.1, tol=1e-12)
    dense = optkern.ot.sinkhorn(M, reg=0.1, tol=1e-12, method="log")
    assert np.abs(res.f - dense.f).max() < 1e-9


# --- small-n plain iteration --------------------------------------------------------------------


@pytest.mark.parametrize("impl", ["optkern-plain", "pot-sinkhorn"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n", [500, 1000, 2000])
def test_small_plain_iteration(benchmark, report, n, dtype, impl):
    """Fixed 100 kernel-domain iterations (tol = 0) at reg = 0.05, default threads."""
    ot = _pot()
    M = point_cloud_cost(n).astype(dtype)
    reg, iters = 0.05, 100
    w = np.full(n, 1.0 / n, dtype)
    if impl == "optkern-plain":
        def make(k):
            return lambda: optkern.ot.sinkhorn(M, reg=reg, method="plain", tol=0,
                                               max_iter=k).plan
    else:
        def make(k):
            return lambda: ot.sinkhorn(w, w, M, reg, numItermax=k, stopThr=0, warn=False)
    assert abs(make(iters)().sum() - 1) < 1e-3
    per_it = max(best_time(make(2 * iters), 2) - best_time(make(iters), 2), 1e-12) / iters
    benchmark.group = f"small-n plain iteration n={n} {dtype} ({iters} it)"
    benchmark.pedantic(make(iters), rounds=2)
    report(benchmark.group, impl, 1.0, "runs/s", baseline="pot-sinkhorn",
           note=f"{per_it * 1e3:8.3f} ms/it")
