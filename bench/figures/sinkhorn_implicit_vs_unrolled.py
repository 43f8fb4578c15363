"""Reproduce Figures 36 and 37 of Gould's lecture notes (section 4.2): running time and memory
of the gradient of an optimal-transport layer, implicit differentiation against automatic
differentiation through the Sinkhorn iterations, as the problem grows.

The experiment is the notes' bi-level problem (eq 147): L(M) = 1/2 |P(M) - P_target|^2 with
P(M) the entropic OT plan for uniform marginals (r = 1/m, c = 1/n: the notes' printed marginals
are swapped). One gradient evaluation = forward to tolerance + backward:

- implicit, block Cholesky: optkern.ot.sinkhorn, then optkern.ot.sinkhorn_vjp (the Schur
  complement on the smaller side, eqs 141-146);
- implicit, dense KKT: the same forward, then the (m + n - 1) KKT system formed and solved
  densely with numpy ("inverting the matrix naively results in slower performance");
- unrolled: torch autograd through the same number of log-domain iterations (and the
  kernel-domain ones, whose graph stores only vectors per iteration).

Time is the best of a few evaluations; memory is the peak resident memory added by one
evaluation, measured in a fresh process (so native allocations count). The notes' figures
also have a GPU panel; optkern's backward runs on the CPU only, so only the CPU panel is drawn.

    python bench/figures/sinkhorn_implicit_vs_unrolled.py [--sizes 16,32,...] [--out DIR]

Writes sinkhorn_implicit_vs_unrolled.csv, sinkhorn_fig36_time.png, sinkhorn_fig37_memory.png.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sinkhorn_peers import (  # noqa: E402
    best_time,
    kkt_vjp_dense,
    peak_memory_mb,
    point_cloud_cost,
    torch_unrolled_grad,
)

import optkern  # noqa: E402

REG = 0.02
TOL = 1e-6


def problem(n: int):
    M = point_cloud_cost(n, seed=n)
    target = np.full((n, n), 1.0 / (n * n))
    return M, target


def implicit_grad(M, target, dense: bool = False):
    P = optkern.ot.sinkhorn(M, reg=REG, tol=TOL).plan
    W = P - target
    if dense:
        return kkt_vjp_dense(P, W, REG)[0]
    return optkern.ot.sinkhorn_vjp(P, W, REG)[0]


def unrolled_grad(M, target, n_iter: int, domain: str):
    """Autodiff of 1/2 |P - target|^2 through n_iter iterations, loss and all in torch."""
    return torch_unrolled_grad(M, REG, n_iter, None, domain, target=target)


METHODS = {
    "implicit (block Cholesky)": "implicit_grad(M, target)",
    "implicit (dense KKT)": "implicit_grad(M, target, dense=True)",
    "unrolled autodiff (log domain)": "unrolled_grad(M, target, iters, 'log')",
    "unrolled autodiff (kernel domain)": "unrolled_grad(M, target, iters, 'kernel')",
}


def measure(sizes: list[int], out: Path) -> list[dict]:
    rows = []
    have_torch = True
    try:
        import torch  # noqa: F401
    except ImportError:
        have_torch = False
    for n in sizes:
        M, target = problem(n)
        iters = optkern.ot.sinkhorn(M, reg=REG, tol=TOL).n_iter
        for name, call in METHODS.items():
            if name.startswith("unrolled") and not have_torch:
                continue
            if name == "implicit (dense KKT)" and n > 1500:
                continue
            scope = {"M": M, "target": target, "iters": iters}
            fn = eval(f"lambda: {call}", {**globals(), **scope})  # noqa: S307 - METHODS only
            # a gradient runs many times in training: time it warm (the first calls at a new
            # size pay for fresh memory, its page faults, 2-4x the solve itself here)
            fn()
            seconds = best_time(fn, 3)
            # a warm-up on a tiny problem first: libraries allocate once on first use
            warm = call.replace("M, target", "*problem(8)")
            setup = (f"from sinkhorn_implicit_vs_unrolled import *; iters = {iters}; {warm}; "
                     f"n = {n}; M, target = problem(n)")
            memory = peak_memory_mb(setup, call)
            rows.append(dict(n=n, method=name, iterations=iters, time_ms=seconds * 1e3,
                             peak_mb=memory, device="cpu"))
            print(f"n={n:5d} {name:36s} {seconds * 1e3:10.2f} ms {memory:9.1f} MB "
                  f"({iters} iterations)", flush=True)
    with open(out / "sinkhorn_implicit_vs_unrolled.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def plot(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for key, ylabel, filename, title in (
        ("time_ms", "time per gradient (ms)", "sinkhorn_fig36_time.png",
         "Figure 36: running time, implicit vs unrolled (CPU)"),
        ("peak_mb", "peak memory added (MB)", "sinkhorn_fig37_memory.png",
         "Figure 37: memory, implicit vs unrolled (CPU)"),
    ):
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        for name in METHODS:
            pts = [(r["n"], max(r[key], 1e-3)) for r in rows if r["method"] == name]
            if pts:
                ax.loglog(*zip(*pts), marker="o", label=name)
        ax.set_xlabel("problem size m = n")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / filename, dpi=120)
        plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="16,32,64,128,256,512,1024")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "out"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = measure([int(s) for s in args.sizes.split(",")], out)
    plot(rows, out)
    print(f"wrote {out}/sinkhorn_implicit_vs_unrolled.csv and the two figures")


if __name__ == "__main__":
    main()
