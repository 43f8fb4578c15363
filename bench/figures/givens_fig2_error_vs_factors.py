"""Reproduce Figure 2 of Frerix & Bruna (ICML 2019): the approximation error of a
d log2(d)-planted matrix against the number of factors, for L1 coordinate descent, the greedy
Frobenius baseline and structured elimination.

The paper used d = 1024 and 10 samples, with up to d(d-1)/2 factors; the default here is the
largest d whose full factorizations run in minutes on a 2-core machine.

    python bench/figures/givens_fig2_error_vs_factors.py [--d 256] [--samples 3]

Writes givens_fig2.csv (mean and std of the error per method and K / (d log2 d)) and
givens_fig2.png into bench/figures/out/.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from givens_common import OUT, dlogd, errors_along, finish_plot, pyplot, write_csv

import optkern
from optkern import givens

METHODS = ("l1", "greedy", "elimination")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=256)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--points", type=int, default=40, help="checkpoints along the run")
    args = parser.parse_args()
    d, full = args.d, args.d * (args.d - 1) // 2
    unit = dlogd(d)
    ks = sorted(set(np.linspace(0, full, args.points).astype(int).tolist()))
    errors = {m: [] for m in METHODS}
    for sample in range(args.samples):
        U = givens.planted(d, unit, np.random.default_rng(sample))
        for method in METHODS:
            start = time.perf_counter()
            seq = givens.factorize(U, full, method=method)
            errors[method].append(errors_along(U, seq, ks))
            print(f"sample {sample} {method}: {len(seq)} factors in "
                  f"{time.perf_counter() - start:.1f} s, final error {errors[method][-1][-1]:.3g}",
                  flush=True)
    rows = []
    for idx, k in enumerate(ks):
        row = {"d": d, "factors": k, "factors_over_dlogd": k / unit}
        for method in METHODS:
            values = np.array([e[idx] for e in errors[method]])
            row[f"{method}_mean"] = values.mean()
            row[f"{method}_std"] = values.std()
        rows.append(row)
    write_csv(rows, OUT / "givens_fig2.csv")

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.array([r["factors_over_dlogd"] for r in rows])
    for method, label in zip(METHODS, ("L1 coordinate descent", "greedy (Frobenius)",
                                       "structured elimination")):
        mean = np.array([r[f"{method}_mean"] for r in rows])
        std = np.array([r[f"{method}_std"] for r in rows])
        ax.plot(x, mean, label=label)
        ax.fill_between(x, mean - std, mean + std, alpha=0.25)
    finish_plot(fig, ax, "givens_fig2.png", xlabel="number of factors / (d log2 d)",
                ylabel="||U - G_1...G_N||_sym / sqrt(d)",
                title=f"Frerix & Bruna Fig. 2: d = {d}, d log2 d-planted, {args.samples} "
                      f"samples, {optkern.get_num_threads()} threads", fontsize=8)


if __name__ == "__main__":
    main()
