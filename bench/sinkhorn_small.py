"""The kernel-domain Sinkhorn iteration where K fits in cache (issue 16, "Small problems"):
optkern against POT's `ot.sinkhorn` at n = 500, 1000, 2000 and 4000, float32 and float64,
with one thread each and with the default threads each, in one run.

    python bench/sinkhorn_small.py [--quick]

Time per iteration is the difference of runs of k and 3k iterations (the setup cancels),
best of several interleaved rounds. With one thread, it is the CPU time of the calling thread
(`time.thread_time`: both libraries then run on it), which other load on a shared machine
barely changes; with the default threads it is wall time, which it does. The "of read BW"
column is the bytes of K per iteration over the time, as a fraction of the streaming read
bandwidth (a BLAS dot of two 128 MB vectors): K is read once per iteration by optkern and
twice by POT, and while K sits in cache the fraction can pass 100%.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference.sinkhorn import point_cloud_cost  # noqa: E402

import optkern  # noqa: E402

REG = 0.05
ITERS = {500: 200, 1000: 60, 2000: 20, 4000: 6}


def per_iteration(make, k: int, clock, rounds: int) -> float:
    """Seconds per iteration of make(k) against make(3k), best of `rounds`."""
    best = {k: np.inf, 3 * k: np.inf}
    for _ in range(rounds):
        for count in (k, 3 * k):
            run = make(count)
            t = clock()
            run()
            best[count] = min(best[count], clock() - t)
    return max(best[3 * k] - best[k], 1e-12) / (2 * k)


def read_bandwidth() -> float:
    x = np.ones(16 << 20)
    y = np.ones(16 << 20)
    best = np.inf
    for _ in range(5):
        t = time.perf_counter()
        x @ y
        best = min(best, time.perf_counter() - t)
    return 2 * x.nbytes / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="n = 500 only, 2 rounds")
    args = parser.parse_args()
    import ot
    from threadpoolctl import threadpool_limits

    sizes = [500] if args.quick else [500, 1000, 2000, 4000]
    rounds = 2 if args.quick else 7
    default = optkern.get_num_threads()
    gbs = read_bandwidth()
    print(f"read bandwidth {gbs:.1f} GB/s; default threads {default}; reg {REG}; "
          f"POT {ot.__version__}\n")
    print("| n | dtype | threads | optkern µs/it | POT µs/it | POT / optkern "
          "| optkern of read BW |")
    print("|---|---|---|---:|---:|---:|---:|")
    for n in sizes:
        for dtype in ("float32", "float64"):
            M = point_cloud_cost(n).astype(dtype)
            w = np.full(n, 1.0 / n, dtype)
            for threads, clock in ((1, time.thread_time), (default, time.perf_counter)):
                def ours(k, threads=threads):
                    def run():
                        optkern.set_num_threads(threads)
                        optkern.ot.sinkhorn(M, reg=REG, method="plain", tol=0.0, max_iter=k)
                    return run

                def pot(k, threads=threads):
                    def run():
                        with threadpool_limits(threads, user_api="blas"):
                            ot.sinkhorn(w, w, M, REG, numItermax=k, stopThr=0.0, warn=False)
                    return run

                o = per_iteration(ours, ITERS[n], clock, rounds)
                p = per_iteration(pot, ITERS[n], clock, rounds)
                print(f"| {n} | {dtype} | {threads} | {o * 1e6:.1f} | {p * 1e6:.1f} | "
                      f"{p / o:.2f}x | {M.nbytes / o / 1e9 / gbs:.0%} |", flush=True)
    optkern.set_num_threads(default)


if __name__ == "__main__":
    main()
