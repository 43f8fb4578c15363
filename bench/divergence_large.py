"""Time and memory of optkern.torch.sinkhorn_divergence on clouds too large for cost matrices
(issue 16): the forward (three sinkhorn_points solves, the symmetric ones warm-started on the
fly) and the backward (the envelope gradient applied on the fly), with the peak RSS growth
against what the dense path would hold.

    python bench/divergence_large.py --n 5000 20000
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

import optkern
import optkern.torch


def run(n: int, reg: float) -> str:
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(n, 3)), requires_grad=True)
    y = torch.tensor(rng.normal(size=(n, 3)) + 0.5)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    s = optkern.torch.sinkhorn_divergence(x, y, reg=reg)
    forward = time.perf_counter() - start
    start = time.perf_counter()
    s.backward()
    backward = time.perf_counter() - start
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    dense = 3 * n * n * 8 / 1e6
    return (f"| {n:,} | {forward:.1f} s | {backward:.1f} s | {grown:.0f} MB | "
            f"3 x {dense / 3:,.0f} MB of costs, plus plans | S = {s.item():.6f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[5000])
    parser.add_argument("--reg", type=float, default=0.5)
    args = parser.parse_args()
    print(f"optkern {optkern.get_num_threads()} threads, reg {args.reg}, d = 3")
    print("| n = m | forward | backward | peak RSS growth | a dense path would hold | |")
    for n in args.n:
        print(run(n, args.reg), flush=True)


if __name__ == "__main__":
    main()
