"""Beam search and layered L1 on the planted ensemble (issue 17).

For d log2(d)-planted matrices (d = 64 and 128) and N = d log2 d factors: the error along the
returned sequence for L1 (beam width 1), beam widths 4 and 16, and L1 with layered=True, with
the depth (layers of disjoint pairs) of each sequence and the time of each run.

    python bench/figures/givens_beam_layers.py [--dims 64 128] [--samples 2]

Writes givens_beam.csv (mean error per method and factor count, depth, time) and
givens_beam.png into bench/figures/out/.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from givens_common import OUT, dlogd, errors_along, print_table, pyplot, save_figure, write_csv

import optkern
from optkern import givens

RUNS = {"l1": {}, "beam k=4": {"method": "beam", "beam_width": 4},
        "beam k=16": {"method": "beam", "beam_width": 16}, "l1 layered": {"layered": True}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--points", type=int, default=24)
    args = parser.parse_args()
    rows, summary = [], []
    for d in args.dims:
        n = dlogd(d)
        ks = sorted(set(np.linspace(0, n, args.points).astype(int).tolist()))
        errors = {name: [] for name in RUNS}
        depths = {name: [] for name in RUNS}
        times = {name: [] for name in RUNS}
        for sample in range(args.samples):
            U = givens.planted(d, n, np.random.default_rng(1000 + sample))
            for name, options in RUNS.items():
                start = time.perf_counter()
                seq = givens.factorize(U, n, **options)
                times[name].append(time.perf_counter() - start)
                errors[name].append(errors_along(U, seq, ks))
                depths[name].append([seq[:k].depth for k in ks])
                print(f"d={d} sample {sample} {name}: {len(seq)} factors, depth {seq.depth}, "
                      f"error {errors[name][-1][-1]:.4f}, {times[name][-1]:.2f} s", flush=True)
        for idx, k in enumerate(ks):
            row = {"d": d, "factors": k, "factors_over_dlogd": k / n}
            for name in RUNS:
                row[f"{name} error"] = float(np.mean([e[idx] for e in errors[name]]))
                row[f"{name} depth"] = float(np.mean([e[idx] for e in depths[name]]))
            rows.append(row)
        for name in RUNS:
            summary.append({"d": d, "method": name, "factors": n,
                            "error": float(np.mean([e[-1] for e in errors[name]])),
                            "depth": float(np.mean([e[-1] for e in depths[name]])),
                            "seconds": float(np.mean(times[name]))})
    write_csv(rows, OUT / "givens_beam.csv")
    write_csv(summary, OUT / "givens_beam_summary.csv")
    print_table(f"\n{optkern.get_num_threads()} threads; mean over {args.samples} samples",
                ["d", "method", "N", "error at N", "depth", "time"],
                (f"| {s['d']} | {s['method']} | {s['factors']} | {s['error']:.4f} | "
                 f"{s['depth']:.0f} | {s['seconds']:.2f} s |" for s in summary))

    plt = pyplot()
    fig, axes = plt.subplots(1, 2 * len(args.dims), figsize=(5 * 2 * len(args.dims), 4))
    for col, d in enumerate(args.dims):
        mine = [r for r in rows if r["d"] == d]
        x = [r["factors_over_dlogd"] for r in mine]
        for name in RUNS:
            axes[2 * col].plot(x, [r[f"{name} error"] for r in mine], label=name)
            axes[2 * col + 1].plot([r[f"{name} depth"] for r in mine],
                                   [r[f"{name} error"] for r in mine], label=name)
        axes[2 * col].set(title=f"planted, d = {d}", xlabel="factors / (d log2 d)",
                          ylabel="error ||U - G P||_F / sqrt(d)")
        axes[2 * col + 1].set(title=f"depth against error, d = {d}", xlabel="depth (layers)",
                              ylabel="error")
        for ax in axes[2 * col: 2 * col + 2]:
            ax.grid(alpha=0.3)
            ax.legend()
    save_figure(fig, "givens_beam.png", dpi=110)


if __name__ == "__main__":
    main()
