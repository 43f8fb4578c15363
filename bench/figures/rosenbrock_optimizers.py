"""Thesis Figure 2 (section 1.1.5): gradient descent, modified Newton, BFGS and L-BFGS on the
averaged Rosenbrock function (eq. 15), n = 1000, from an N(0, 1) start.

Each method runs with the thesis' settings (gradient descent: Armijo backtracking from
alpha = 0.1, c1 = 1e-4, tau = 1/2; Newton: eigenvalues floored at 1e-6, backtracking from 1;
BFGS: strong Wolfe search, first inverse Hessian the floored (1e-3) inverse Hessian at x0;
L-BFGS: m = 10, H0 of eq. 16), all in C++ (optkern's native problem).

The objective f(x_k) (its minimum is 0) is plotted against iterations and against run time
in units of one objective evaluation t_f, with long-run (top) and initial-phase (bottom)
panels. f per iteration comes from a callback; run times are measured without one: the runs
are deterministic, so each method is rerun up to a set of checkpoint iterations and timed.

    python bench/figures/rosenbrock_optimizers.py [--n 1000] [--seed 2022] [--out DIR]

writes rosenbrock_optimizers.png and rosenbrock_optimizers.csv (iteration, f, and the
seconds and t/t_f at the checkpoints) into bench/figures/out/.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

import optkern
from optkern.optimize import minimize, problems

METHODS = {
    "gradient descent": dict(method="gd", alpha0=0.1, c1=1e-4, tau=0.5),
    "Newton": dict(method="newton", eig_floor=1e-6),
    "BFGS": dict(method="bfgs", hess=True, eig_floor=1e-3),
    "L-BFGS": dict(method="lbfgs", m=10),
}
STOP = dict(gtol=1e-10, ftol=0.0, max_iter=3_000_000, max_fev=10_000_000)
COLOURS = {"gradient descent": "tab:red", "Newton": "tab:blue", "BFGS": "tab:green",
           "L-BFGS": "tab:orange"}


def trace(p, x0, settings):
    """f(x_k) for k = 0, 1, ... (a callback per iteration)."""
    values = [float(p.fun(x0))]

    def callback(intermediate_result):
        values.append(intermediate_result.fun)

    res = minimize(p, x0, callback=callback, **STOP, **settings)
    return np.array(values), res


def checkpoint_times(p, x0, settings, iterations, repeats=3):
    """Seconds to reach each checkpoint iteration, timed without a callback (best of
    `repeats`)."""
    seconds = []
    for k in iterations:
        best = np.inf
        for _ in range(repeats):
            start = time.perf_counter()
            minimize(p, x0, **{**STOP, "max_iter": int(k)}, **settings)
            best = min(best, time.perf_counter() - start)
        seconds.append(best)
    return np.array(seconds)


def evaluation_seconds(p, x0) -> float:
    """t_f: the mean time of one evaluation of f and its gradient in C++ (one thread)."""
    rows = 1000
    xs = np.tile(x0, (rows, 1))
    old = optkern.set_num_threads(1)
    try:
        best = np.inf
        for _ in range(7):
            start = time.perf_counter()
            p(xs)
            best = min(best, time.perf_counter() - start)
    finally:
        optkern.set_num_threads(old)
    return best / rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument("--checkpoints", type=int, default=25)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    p = problems.rosenbrock_averaged(args.n)
    x0 = np.random.default_rng(args.seed).standard_normal(args.n)
    t_f = evaluation_seconds(p, x0)
    print(f"averaged Rosenbrock n={args.n}: t_f = {t_f * 1e6:.2f} us per evaluation")

    curves = {}
    for name, settings in METHODS.items():
        values, res = trace(p, x0, settings)
        nit = len(values) - 1
        marks = np.unique(np.geomspace(1, max(nit, 1), args.checkpoints).astype(int))
        seconds = checkpoint_times(p, x0, settings, marks)
        curves[name] = (values, marks, seconds)
        print(f"{name:17s} {res.message[:40]:40s} nit {res.nit:8d} nfev {res.nfev:8d} "
              f"nhev {res.nhev:5d}  {seconds[-1]:7.3f} s = {seconds[-1] / t_f:10.0f} t_f  "
              f"max|x - 1| {np.abs(res.x - 1).max():.1e}")

    with open(args.out / "rosenbrock_optimizers.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["method", "iteration", "f", "seconds", "time_over_t_f"])
        for name, (values, marks, seconds) in curves.items():
            timed = dict(zip(marks.tolist(), seconds.tolist()))
            for k, f in enumerate(values):
                s = timed.get(k)
                writer.writerow([name, k, f"{f:.17g}", "" if s is None else f"{s:.6g}",
                                 "" if s is None else f"{s / t_f:.6g}"])
    plot(curves, t_f, args)


def plot(curves, t_f, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    fastest = min(len(values) for values, _, _ in curves.values()) - 1
    short_iterations = max(50, 2 * fastest)
    short_time = max(seconds[-1] for name, (_, _, seconds) in curves.items()
                     if name != "gradient descent") / t_f
    for name, (values, marks, seconds) in curves.items():
        k = np.arange(len(values))
        f = np.maximum(values, 1e-30)
        style = dict(color=COLOURS[name], label=name)
        for row in range(2):
            axes[row, 0].semilogy(k, f, **style)
            axes[row, 1].semilogy(seconds / t_f, f[marks], marker=".", **style)
    axes[0, 0].set_title("objective vs iterations")
    axes[0, 1].set_title("objective vs run time")
    axes[1, 0].set_xlim(0, short_iterations)
    axes[1, 1].set_xlim(0, 0.1 * short_time)
    axes[0, 1].set_xscale("log")
    for ax in axes[:, 0]:
        ax.set_xlabel("iteration")
    for ax in axes[:, 1]:
        ax.set_xlabel("run time / t_f (one objective evaluation)")
    for ax in axes.flat:
        ax.set_ylabel("f(x_k)  (minimum 0)")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    axes[0, 0].set_xscale("log")
    fig.suptitle(f"Averaged Rosenbrock, n = {args.n}, x0 ~ N(0, 1) (seed {args.seed}); "
                 f"t_f = {t_f * 1e6:.2f} us. Top: long run; bottom: initial phase")
    fig.tight_layout()
    path = args.out / "rosenbrock_optimizers.png"
    fig.savefig(path, dpi=130)
    print(f"wrote {path} and {path.with_suffix('.csv')}")


if __name__ == "__main__":
    main()
