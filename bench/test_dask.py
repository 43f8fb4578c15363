"""optkern on a dask.distributed LocalCluster against the in-process call on the same machine.

Groups:
* TV: tv.denoise of a (200,000 x 1,000) float32 batch of noisy random walks at lam = 1,
  generated per chunk of 10,000 signals (1/20 of the batch) from a seed, so that the batch
  is never held by one process on the cluster side; each signal's mean of y comes back.
* minimize_batch: 1,000,000 native Rosenbrock problems of size 8 (L-BFGS from N(0, 1)
  starts, generated per chunk of 50,000 rows from a seed); each problem's f comes back.

Both sides do the same work. The in-process call generates the same chunks into one array
(on as many Python threads as optkern uses), then makes one optkern call on all threads
(optkern.get_num_threads(), the machine's cores). The cluster has 2 worker processes of 1
thread each, whose tasks use 1 optkern thread (dask's nanny sets OMP_NUM_THREADS=1). The
rates count generation and solve. Peak memory: the largest resident set (VmHWM) of each
worker process (a fresh cluster per case), and of a fresh process making the in-process
call; "idle" is a worker's before any task.

OPTKERN_BENCH_DASK_SCALE (default 1) scales both batch sizes (0.05 on a shared machine).
Run with: python -m pytest bench/test_dask.py --benchmark-only
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import optkern

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

# The generators below run on the workers: sent by value (this file is not importable there).
import cloudpickle  # noqa: E402

if __name__ in sys.modules:
    cloudpickle.register_pickle_by_value(sys.modules[__name__])

SCALE = float(os.environ.get("OPTKERN_BENCH_DASK_SCALE", "1"))
CHUNKS = 20  # row chunks per batch: 10,000 signals, 50,000 problems at full size
TV_SIGNALS, TV_N, TV_LAM = int(200_000 * SCALE), 1_000, 1.0
OPT_PROBLEMS, OPT_N = int(1_000_000 * SCALE), 8
TV_CHUNK, OPT_CHUNK = -(-TV_SIGNALS // CHUNKS), -(-OPT_PROBLEMS // CHUNKS)
SEED = 2026


def tv_chunk(rows: int, index: int) -> np.ndarray:
    rng = np.random.default_rng([SEED, index])
    walk = np.cumsum(rng.standard_normal((rows, TV_N), dtype=np.float32), axis=-1)
    return walk + rng.standard_normal((rows, TV_N), dtype=np.float32)


def opt_chunk(rows: int, index: int) -> np.ndarray:
    return np.random.default_rng([SEED, index]).standard_normal((rows, OPT_N))


def row_chunks(total: int, chunk: int) -> tuple[int, ...]:
    full, rest = divmod(total, chunk)
    return (chunk,) * full + ((rest,) if rest else ())


def lazy(generate, total: int, chunk: int, n: int, dtype) -> da.Array:
    """A dask array whose row chunk i is generate(rows, i), made on the worker."""
    def block(block_info=None):
        info = block_info[None]
        return generate(info["chunk-shape"][0], info["chunk-location"][0])

    return da.map_blocks(block, chunks=(row_chunks(total, chunk), (n,)), dtype=dtype,
                         meta=np.empty((0, 0), dtype))


def eager(generate, total: int, chunk: int, n: int, dtype) -> np.ndarray:
    """The same chunks in one array, made on optkern.get_num_threads() Python threads (the
    generators and cumsum release the GIL), as the cluster makes them in parallel."""
    out = np.empty((total, n), dtype)
    sizes = row_chunks(total, chunk)
    starts = np.concatenate([[0], np.cumsum(sizes)])

    def fill(i: int) -> None:
        out[starts[i]:starts[i + 1]] = generate(sizes[i], i)

    with concurrent.futures.ThreadPoolExecutor(optkern.get_num_threads()) as pool:
        list(pool.map(fill, range(len(sizes))))
    return out


def tv_in_process() -> np.ndarray:
    x = eager(tv_chunk, TV_SIGNALS, TV_CHUNK, TV_N, np.float32)
    return optkern.tv.denoise(x, TV_LAM).mean(axis=-1)


def tv_on_cluster() -> np.ndarray:
    x = lazy(tv_chunk, TV_SIGNALS, TV_CHUNK, TV_N, np.float32)
    return optkern.tv.denoise(x, TV_LAM).mean(axis=-1).compute()


PROBLEM = optkern.optimize.problems.rosenbrock(OPT_N)


def opt_in_process() -> np.ndarray:
    x0 = eager(opt_chunk, OPT_PROBLEMS, OPT_CHUNK, OPT_N, np.float64)
    return optkern.optimize.minimize_batch(PROBLEM, x0).fun


def opt_on_cluster() -> np.ndarray:
    x0 = lazy(opt_chunk, OPT_PROBLEMS, OPT_CHUNK, OPT_N, np.float64)
    return optkern.optimize.minimize_batch(PROBLEM, x0).fun.compute()


def _peak_rss_mb() -> float:
    """This process's peak resident set since it started (Linux VmHWM; ru_maxrss would
    count the pages of the parent a spawned worker was forked from)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def in_process_peak_mb(name: str) -> float:
    """The peak resident set of a fresh process that makes the in-process call."""
    code = ("import importlib.util as u; s = u.spec_from_file_location('bench_dask', "
            f"{__file__!r}); m = u.module_from_spec(s); s.loader.exec_module(m); "
            f"m.{name}(); print(m._peak_rss_mb())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.split()[-1])


def cluster_client():
    """A fresh LocalCluster per measurement, so that its workers' peak memory is this run's."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.ERROR)
    return cluster, distributed.Client(cluster)


CASES = {
    "tv": (tv_in_process, tv_on_cluster, TV_SIGNALS * TV_N / 1e6, "Msamples/s",
           f"dask tv.denoise {TV_SIGNALS} x {TV_N} float32, lam {TV_LAM}"),
    "minimize_batch": (opt_in_process, opt_on_cluster, OPT_PROBLEMS / 1e3, "kproblems/s",
                       f"dask minimize_batch {OPT_PROBLEMS} rosenbrock({OPT_N})"),
}


ROUNDS = 3


@pytest.mark.parametrize("case", list(CASES))
def test_dask_against_in_process(benchmark, report, case):
    """The cluster's rounds are timed by the benchmark; before each, the in-process call
    runs and is timed too, so that both see the same load (this machine is shared)."""
    in_process, on_cluster, work, unit, group = CASES[case]
    benchmark.group = group
    expected = in_process()
    in_process_seconds = []

    def run_in_process():
        start = time.perf_counter()
        in_process()
        in_process_seconds.append(time.perf_counter() - start)

    cluster, client = cluster_client()
    with cluster, client:
        idle = client.run(_peak_rss_mb)
        on_cluster()  # warm: the workers import optkern
        result = benchmark.pedantic(on_cluster, setup=run_in_process, rounds=ROUNDS,
                                    iterations=1)
        peaks = client.run(_peak_rss_mb)
    tolerance = dict(rtol=1e-5, atol=1e-5) if case == "tv" else dict(rtol=0, atol=0)
    np.testing.assert_allclose(result, expected, **tolerance)
    best = min(in_process_seconds)
    report(group, "in-process", work, unit, seconds=best,
           note=f"{optkern.get_num_threads()} optkern threads; peak "
                f"{in_process_peak_mb(in_process.__name__):.0f} MB in the process")
    overhead = benchmark.stats.stats.min / best - 1
    report(group, "dask-2x1", work, unit, baseline="in-process",
           note=f"overhead {overhead:+.0%}; peak "
                + " / ".join(f"{p:.0f}" for p in peaks.values())
                + f" MB per worker (idle {max(idle.values()):.0f})")
