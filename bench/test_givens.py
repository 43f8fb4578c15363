"""Givens factorization: time per step and in total, CPU (threads) and CUDA, against the authors'
published H200 figures and against optkern's own brute-force reference.

Sizes follow the issue: d in {128, 256, 512, 1024} with N = d log2 d steps, and N = d(d-1)/2 at
d = 256 (a full factorization), on d log2 d-planted matrices (dense, like the paper's Fig. 2).
The authors' CUDA code (tfrerix/givens-factorization, float32, O(d^3) per step) measured on an
H200: 0.076 ms per step and 2.49 s for the full d = 256 run; 2.3 s for the first pass at
d = 1024 and ~1.1 ms per step after it (13.5 s for 10,240 steps).

Every case checks its result before it is timed: the first steps against the brute-force
reference where that is affordable (d = 128), and otherwise that the recorded L1 decreases add
up to the actual decrease of ||G^T U||_1, with every angle in (-pi/4, pi/4].

Rates are in column-pairs per second (d columns times the 2(d-2)+1 re-scored pairs per step,
plus the first pass); the limit is the read bandwidth over the 2 rows of 8 (or 4) bytes a
column-pair needs, the most a pass that streams the rows could reach.
"""

from __future__ import annotations

import functools
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import optkern
from optkern import givens

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference import givens as ref  # noqa: E402

CASES = [(128, None), (256, None), (512, None), (1024, None), (256, "full")]
IMPLS = ["optkern-cpu", "optkern-cpu-1thread", "optkern-cuda"]
# The authors' float32 CUDA code on an H200 (seconds for the whole run), where published.
AUTHORS_H200 = {(256, 2048): 2048 * 0.076e-3, (256, 32640): 2.49, (1024, 10240): 13.5}


def steps_for(d: int, kind) -> int:
    return d * (d - 1) // 2 if kind == "full" else int(d * math.log2(d))


@functools.lru_cache(maxsize=4)
def planted_matrix(d: int, dtype: str = "float64") -> np.ndarray:
    return givens.planted(d, int(d * math.log2(d)), np.random.default_rng(d), dtype=dtype)


def column_pairs(d: int, steps: int) -> float:
    """Column-pair evaluations: the first pass, then 2(d-2)+1 pairs per step."""
    return float(d) * (d * (d - 1) / 2 + steps * (2 * (d - 2) + 1))


def check(U: np.ndarray, seq, decreases: np.ndarray, reference_steps: int = 0) -> None:
    assert np.all(np.abs(seq.theta) <= np.pi / 4 + 1e-7)
    V = seq.apply(U.astype(np.float64), transpose=True)
    change = np.abs(U).sum() - np.abs(V).sum()
    assert change == pytest.approx(decreases.sum(), rel=1e-6), "L1 decreases do not add up"
    if reference_steps:
        i, j, theta = ref.l1_coordinate_descent(U, reference_steps)
        np.testing.assert_array_equal(seq.i[:reference_steps], i)
        np.testing.assert_array_equal(seq.j[:reference_steps], j)
        np.testing.assert_allclose(seq.theta[:reference_steps], theta, atol=1e-9)


def run_and_record(U, n, **kwargs):
    steps = []
    seq = givens.factorize(U, n, callback=steps.append, **kwargs)
    return seq, np.array([s.decrease for s in steps])


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("d", "kind"), CASES, ids=[f"d{d}-{k or 'dlogd'}" for d, k in CASES])
def test_givens_l1(benchmark, report, machine, d, kind, impl):
    n = steps_for(d, kind)
    U = planted_matrix(d)
    options = {}
    threads = optkern.get_num_threads()
    if impl == "optkern-cuda":
        if not optkern.cuda_available():
            pytest.skip("needs a CUDA device")
        options["device"] = "cuda"
    elif impl == "optkern-cpu-1thread":
        if threads == 1 or d > 512 or kind == "full":
            pytest.skip("single-thread runs only for d <= 512 (time)")
        threads = 1

    old = optkern.set_num_threads(threads)
    try:
        seq, decreases = run_and_record(U, n, **options)  # also the warm-up
        check(U, seq, decreases, reference_steps=10 if d <= 128 else 0)
        if impl == "optkern-cuda":
            cpu = givens.factorize(U, min(n, 500))
            m = min(len(cpu), len(seq), 200)
            np.testing.assert_array_equal(seq.i[:m], cpu.i[:m])
        benchmark.group = f"givens l1 float64 d={d} N={n}"
        benchmark.pedantic(lambda: givens.factorize(U, n, **options), rounds=1, iterations=1)
    finally:
        optkern.set_num_threads(old)
    seconds = benchmark.stats.stats.min
    note = f"{1e3 * seconds / max(len(seq), 1):.3f} ms/step, {threads} thr"
    authors = AUTHORS_H200.get((d, n))
    if authors is not None:
        note += f", {authors / seconds:.2f}x authors' H200 ({authors:.2f} s)"
    limit = machine.read_gbs * 1e9 / (2 * 8) / 1e9 if impl != "optkern-cuda" else None
    report(benchmark.group, impl, column_pairs(d, len(seq)) / 1e9, "Gcolpair/s", limit=limit,
           baseline="optkern-cpu", note=note)


@pytest.mark.parametrize("impl", ["bruteforce-numpy", "optkern-cpu"])
@pytest.mark.parametrize("d", [32, 64])
def test_givens_l1_vs_bruteforce(benchmark, report, d, impl):
    """The first pass and 20 steps: optkern against the NumPy reference that evaluates every
    candidate angle of every re-scored pair (O(d^2) per pair, as the authors' code)."""
    U = planted_matrix(d)
    n = 20
    if impl == "bruteforce-numpy":
        fn = functools.partial(ref.l1_coordinate_descent, U, n)
        i, _, _ = fn()
    else:
        fn = functools.partial(givens.factorize, U, n)
        i = fn().i
    assert len(i) == n
    benchmark.group = f"givens l1 first pass + {n} steps d={d}"
    benchmark.pedantic(fn, rounds=3 if impl == "optkern-cpu" else 1, iterations=1)
    report(benchmark.group, impl, column_pairs(d, n) / 1e9, "Gcolpair/s",
           baseline="bruteforce-numpy")


@pytest.mark.parametrize("method", ["elimination", "greedy", "jacobi", "l1"])
def test_givens_methods_d512(benchmark, report, method):
    """All methods at d = 512 with d log2 d factors (elimination: its d(d-1)/2)."""
    d = 512
    U = planted_matrix(d)
    n = steps_for(d, None)
    if method == "jacobi":
        L = (U * np.linspace(1, 2, d)) @ U.T
        L = (L + L.T) / 2
        fn = functools.partial(givens.jacobi, L, n)
    elif method == "elimination":
        n = d * (d - 1) // 2
        fn = functools.partial(givens.factorize, U, method="elimination")
    else:
        fn = functools.partial(givens.factorize, U, n, method=method)
    seq = fn()
    if method == "elimination":
        assert givens.symmetrized_frobenius(U, seq.to_dense()) < 1e-10
    else:
        assert len(seq) == n
    benchmark.group = f"givens methods float64 d={d}"
    benchmark.pedantic(fn, rounds=1, iterations=1)
    report(benchmark.group, method, len(seq) / 1e6, "Mfactor/s", baseline="l1",
           note=f"{len(seq)} factors")


@pytest.mark.parametrize("cols", [1, 64, 4096])
def test_givens_apply(benchmark, report, machine, cols):
    """GivensSequence.apply of d log2 d factors at d = 1024: 6 flops per factor and column."""
    d = 1024
    _, seq = givens.planted(d, int(d * math.log2(d)), np.random.default_rng(1),
                            return_sequence=True)
    X = np.random.default_rng(2).standard_normal((d, cols))
    Y = seq.apply(X)
    assert np.linalg.norm(Y) == pytest.approx(np.linalg.norm(X), rel=1e-10)  # orthogonal
    benchmark.group = f"givens apply d={d} N={len(seq)} columns={cols}"
    benchmark.pedantic(lambda: seq.apply(X), rounds=5, warmup_rounds=1, iterations=1)
    flops = 6.0 * len(seq) * cols
    report(benchmark.group, "optkern-cpu", flops / 1e9, "GFLOP/s",
           limit=machine.gemm_gflops["float64"], baseline="optkern-cpu")


@pytest.mark.parametrize("impl", ["optkern-givens", "optkern-givens-signed", "numpy-dense"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_givens_apply_vs_dense(benchmark, report, machine, impl, dtype):
    """Issue 17: a d log2 d factorization applied to a d x 1024 block at d = 1024 against the
    dense product U @ X (OpenBLAS), with the same number of threads. GFLOP/s of each counts
    its own flops (6 per factor and column, 2 d per entry of the dense product); the note
    gives the time ratio to the dense product."""
    d, cols = 1024, 1024
    threads = optkern.get_num_threads()
    U, seq = givens.planted(d, int(d * math.log2(d)), np.random.default_rng(1),
                            return_sequence=True, dtype=dtype)
    signed = givens.GivensSequence(seq.i, seq.j, seq.theta, d,
                                   np.random.default_rng(3).permutation(d),
                                   np.random.default_rng(4).choice([-1, 1], d))
    X = np.random.default_rng(2).standard_normal((d, cols)).astype(dtype)
    dense = signed.to_dense() if impl == "optkern-givens-signed" else seq.to_dense()
    tol = 1e-3 if dtype == "float32" else 1e-10
    if impl == "numpy-dense":
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=threads, user_api="blas"):
            np.testing.assert_allclose(dense @ X, seq @ X, atol=tol)
            benchmark.pedantic(lambda: dense @ X, rounds=5, warmup_rounds=1, iterations=1)
        flops = 2.0 * d * d * cols
    else:
        op = signed if impl == "optkern-givens-signed" else seq
        np.testing.assert_allclose(op @ X, dense @ X, atol=tol)
        benchmark.pedantic(lambda: op @ X, rounds=5, warmup_rounds=1, iterations=1)
        flops = 6.0 * len(seq) * cols
    benchmark.group = f"givens apply vs dense {dtype} d={d} N={len(seq)} cols={cols}"
    report(benchmark.group, impl, flops / 1e9, "GFLOP/s", limit=machine.gemm_gflops[dtype],
           baseline="numpy-dense", note=f"{threads} threads")
