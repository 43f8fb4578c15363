"""optkern.tv.denoise (exact) against prox_tv's tv1_1d methods and tv1w_1d, one thread, in one
process, interleaved (each repeat times every contender once), best of the repeats.

    python bench/tv_vs_proxtv.py [--sizes 1000,100000,1000000] [--repeats 5] [--weighted]
        [--other PATH]   # also time another optkern build (its python/ dir), e.g. main's

Rates in Msamples/s. Only ratios mean anything on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

SIGNALS = {"walk": 1.0, "blocks": 0.1, "noise": 1.0, "sine": 0.3}
METHODS = ["hybridtautstring", "classictautstring", "linearizedtautstring", "condat"]


def signal(kind, n, seed=0):
    rng = np.random.default_rng(seed)
    sigma = SIGNALS[kind]
    if kind == "walk":
        return np.cumsum(rng.standard_normal(n)) + rng.standard_normal(n)
    if kind == "blocks":
        levels = rng.standard_normal(n // 1000 + 1)
        return np.repeat(levels, 1000)[:n] + sigma * rng.standard_normal(n)
    if kind == "noise":
        return rng.standard_normal(n)
    return np.sin(np.linspace(0, 20 * np.pi, n)) + sigma * rng.standard_normal(n)


def best_time(fn, budget):
    """Best per-call time of fn over calls filling about `budget` seconds (at least 1)."""
    best = np.inf
    end = time.perf_counter() + budget
    while True:
        t0 = time.perf_counter()
        fn()
        t = time.perf_counter() - t0
        best = min(best, t)
        if time.perf_counter() > end:
            return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,100000,1000000")
    ap.add_argument("--signals", default="walk,blocks,noise,sine")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--lams", type=int, default=6)
    ap.add_argument("--weighted", action="store_true")
    ap.add_argument("--kernel", action="store_true", help="also time the bare C++ entry")
    args = ap.parse_args()
    import optkern
    import prox_tv as ptv
    from optkern import _backend
    from optkern.tv import denoise, lambda_max

    optkern.set_num_threads(1)
    print(f"# load average {os.getloadavg()}")
    hdr = "| signal | n | λ | optkern | best prox_tv (method) | ratio |"
    if args.kernel:
        hdr = "| signal | n | λ | optkern | kernel only | best prox_tv (method) | ratio |"
    if args.weighted:
        hdr = "| signal | n | λ (weights U(0, 2λ)) | optkern | prox_tv tv1w_1d | ratio |"
    print(hdr)
    print("|" + " --- |" * (hdr.count("|") - 1))
    for n in [int(v) for v in args.sizes.split(",")]:
        budget = 0.02 if n <= 1000 else 0.1
        for kind in args.signals.split(","):
            x = signal(kind, n)
            sigma = SIGNALS[kind]
            lams = np.geomspace(0.01 * sigma, max(float(lambda_max(x)) / 10, 0.02 * sigma),
                                args.lams)
            for lam in lams:
                lam = float(lam)
                if args.weighted:
                    w = np.random.default_rng(1).uniform(0, 2 * lam, n - 1)
                    cont = {"optkern": lambda: denoise(x, w),
                            "tv1w_1d": lambda: ptv.tv1w_1d(x, w)}
                else:
                    cont = {"optkern": lambda: denoise(x, lam)}
                    if args.kernel:
                        rows = x.reshape(1, n)
                        lr = np.array([lam])
                        out = np.empty_like(rows)
                        cont["kernel"] = lambda: _backend._core.tv_denoise(rows, lr, out)
                    for m in METHODS:
                        cont[m] = (lambda m=m: ptv.tv1_1d(x, lam, method=m))
                best = {k: np.inf for k in cont}
                for _ in range(args.repeats):
                    for k, f in cont.items():
                        best[k] = min(best[k], best_time(f, budget))
                rate = {k: n / v / 1e6 for k, v in best.items()}
                if args.weighted:
                    print(f"| {kind} | {n:.0e} | {lam:.3g} | {rate['optkern']:.1f} | "
                          f"{rate['tv1w_1d']:.1f} | {rate['optkern'] / rate['tv1w_1d']:.2f}x |")
                else:
                    peer = max(METHODS, key=lambda m: rate[m])
                    kern = f" {rate['kernel']:.1f} |" if args.kernel else ""
                    print(f"| {kind} | {n:.0e} | {lam:.3g} | {rate['optkern']:.1f} |{kern} "
                          f"{rate[peer]:.1f} ({peer}) | {rate['optkern'] / rate[peer]:.2f}x |")
                sys.stdout.flush()


if __name__ == "__main__":
    main()
