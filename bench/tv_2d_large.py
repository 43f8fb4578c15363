"""2-D TV on the 2048² `camera` image against its peers at equal objective, one thread: the
large cells of issue 15's 2-D grid, without bench/test_tv_grid.py's full search over every
prox_tv method and budget (hours at this size).

    python bench/tv_2d_large.py [--size 2048] [--lams 0.05] [--methods yang,dr]

For each λ: the optimum by optkern at tol = 1e-10; then the peer's smallest budget (from a
short list) whose objective comes within 1e-6 (relative) of it, or its largest budget and the
gap it reached; then optkern run to the same objective gap (tol = 1e-6, or the peer's gap when
the peer does not reach 1e-6). Anisotropic against prox_tv's tv1_2d with the given methods
(yang was the fastest of dr, pd, yang and condat in every 512² cell), isotropic against
scikit-image's denoise_tv_chambolle. Times: one run each, time.thread_time (one thread).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import optkern
from optkern.tv import denoise_2d

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_tv_grid import noisy_camera, objective_2d  # noqa: E402  (one definition)


def timed(fn):
    start = time.thread_time()
    out = fn()
    return out, time.thread_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--lams", default="0.05")
    parser.add_argument("--methods", default="yang")
    args = parser.parse_args()
    import prox_tv as ptv
    from skimage.restoration import denoise_tv_chambolle

    optkern.set_num_threads(1)
    x = noisy_camera(args.size)
    print(f"load average at the start: {os.getloadavg()[0]:.2f}\n")
    print("| image, λ | TV | optkern (s, objective gap) | peer (s, setting: objective gap) "
          "| ratio |")
    print("| --- | --- | --- | --- | ---: |")
    for lam in (float(v) for v in args.lams.split(",")):
        for isotropic in (False, True):
            y_best = denoise_2d(x, lam, isotropic=isotropic, tol=1e-10, max_iter=100_000)
            best = objective_2d(x, y_best, lam, isotropic)

            def gap_of(y):
                return (objective_2d(x, y, lam, isotropic) - best) / best

            if isotropic:
                families = [[(f"skimage, budget {it}", lambda it=it: denoise_tv_chambolle(
                    x, weight=lam, eps=1e-12, max_num_iter=it)) for it in (200, 500, 1000, 2000)]]
            else:
                budgets = (50, 100, 150, 200, 300)
                families = [[(f"tv1_2d {m}, budget {it}", lambda m=m, it=it: ptv.tv1_2d(
                    x, lam, method=m, max_iters=it, n_threads=1)) for it in budgets]
                    for m in args.methods.split(",")]

            def first_to_target(family):
                """The family's first run within 1e-6, else its last: a sort key and the run."""
                for setting, run in family:
                    y, seconds = timed(run)
                    gap = gap_of(y)
                    if gap <= 1e-6:
                        return (False, seconds), (setting, seconds, gap)
                return (True, gap), (setting, seconds, gap)

            found = min((first_to_target(f) for f in families), key=lambda r: r[0])[1]
            setting, peer_seconds, peer_gap = found
            tol = max(1e-6, peer_gap)
            y, seconds = timed(lambda: denoise_2d(x, lam, isotropic=isotropic, tol=tol,
                                                  max_iter=100_000))
            name = "isotropic" if isotropic else "anisotropic"
            print(f"| {args.size}², {lam} | {name} | {seconds:.2f} ({gap_of(y):.1e}, tol "
                  f"{tol:.1e}) | {peer_seconds:.2f} ({setting}: {peer_gap:.1e}) | "
                  f"{peer_seconds / seconds:.2f}x |", flush=True)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
