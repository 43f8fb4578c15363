"""Thread scaling of optkern's total variation (issue 15): the same call on 1 thread and on 2,
interleaved (each repeat times both), best of the repeats, on an otherwise idle machine.

    python bench/tv_threads.py [--repeats 5] [--images 512,2048]

Cases: the exact 1-D solver on batches 65536 x 256 and 4096 x 1000 (every signal of the
issue-15 grid, λ = 0.1 λ_max of each batch's first signal), and 2-D denoising of the noisy
`camera` image (anisotropic and isotropic, λ = 0.05 and 0.15 (2048²: 0.05 only, one repeat),
tol = 1e-6). Targets: 1.8x
(1-D batches) and 1.7x (2-D) on 2 threads. The load average is printed at the start and the
end: a busy machine makes the second thread worth less.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import optkern
from optkern.tv import denoise, denoise_2d, lambda_max

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_tv_grid import SIGNALS, noisy_camera, signal  # noqa: E402  (one definition)


def best_of(repeats, calls):
    """Best wall time of each call over `repeats` interleaved rounds."""
    best = [np.inf] * len(calls)
    for _ in range(repeats):
        for i, call in enumerate(calls):
            start = time.perf_counter()
            call()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def on_threads(threads, fn):
    def call():
        old = optkern.set_num_threads(threads)
        try:
            fn()
        finally:
            optkern.set_num_threads(old)

    return call


def row(case, work, unit, fn, repeats):
    one, two = best_of(repeats, [on_threads(1, fn), on_threads(2, fn)])
    print(f"| {case} | {work / one / 1e6:.3g} | {work / two / 1e6:.3g} | {one / two:.2f}x | "
          f"{one:.3f} / {two:.3f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--images", default="512,2048")
    args = parser.parse_args()
    print(f"load average at the start: {os.getloadavg()[0]:.2f}; "
          f"build: {optkern.build_info()['simd']}\n")
    print("| case | 1 thread (M/s) | 2 threads (M/s) | speed-up | seconds (1 / 2 threads) |")
    print("| --- | ---: | ---: | ---: | --- |")
    for batch, n in ((65536, 256), (4096, 1000)):
        for kind in SIGNALS:
            x = np.stack([signal(kind, n, seed) for seed in range(batch)])
            lam = 0.1 * float(lambda_max(x[0]))
            row(f"1-D {batch}x{n} {kind}", x.size, "Msamples/s",
                lambda x=x, lam=lam: denoise(x, lam), args.repeats)
    for size in (int(v) for v in args.images.split(",")):
        img = noisy_camera(size)
        for isotropic in (False, True):
            for lam in (0.05, 0.15) if size <= 512 else (0.05,):  # 2048² at 0.15: minutes
                name = "isotropic" if isotropic else "anisotropic"
                row(f"2-D {name} {size}² λ={lam}", img.size, "Mpixels/s",
                    lambda img=img, lam=lam, iso=isotropic: denoise_2d(
                        img, lam, isotropic=iso, tol=1e-6, max_iter=100_000),
                    args.repeats if size <= 512 else 1)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
