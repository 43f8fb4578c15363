"""Reproduce Figure 4 of the seed thesis (section 1.2.5): the CPU/GPU time quotient of a square
float32 matrix product as a function of n.

The thesis timed JAX on 24 Xeon E5-2643 v3 cores against a Titan X; its quotient rose to about
70 and fell to about 10. Here the same experiment runs optkern.linalg.bmm on this machine's
CPU against optkern.linalg.bmm (and cuBLAS, for reference) on its GPU, with the average time of
repeated products of standard-normal matrices, as the thesis did.

    python bench/figures/cpu_vs_gpu_matmul.py [--max-n 8192] [--out bench/figures/out]

Writes cpu_vs_gpu_matmul.csv and cpu_vs_gpu_matmul.png. Without a GPU only the CPU columns
are filled and the plot shows the CPU rates.
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from pathlib import Path

import numpy as np

import optkern


def average_time(fn, budget_s: float = 1.0, max_reps: int = 100) -> float:
    """Average seconds per call: one warm-up, then up to max_reps calls within the budget."""
    fn()
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    reps = int(max(1, min(max_reps, budget_s / max(first, 1e-9))))
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - start) / reps


def gpu_runner(a: np.ndarray, b: np.ndarray):
    """(optkern on the GPU, cuBLAS) callables on device copies of a and b, or None."""
    if not optkern.cuda_available():
        return None
    try:
        import torch

        da, db = torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda()
        sync, cublas = torch.cuda.synchronize, torch.mm
    except ImportError:
        import cupy

        da, db = cupy.asarray(a), cupy.asarray(b)
        sync, cublas = cupy.cuda.Device().synchronize, cupy.matmul

    def ours():
        optkern.linalg.bmm(da, db, device="cuda")
        sync()

    def theirs():
        cublas(da, db)
        sync()

    return ours, theirs


def measure(sizes: list[int]) -> list[dict]:
    rows = []
    rng = np.random.default_rng(0)
    for n in sizes:
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        row = {"n": n,
               "cpu_optkern_s": average_time(lambda: optkern.linalg.bmm(a, b)),
               "cpu_numpy_s": average_time(lambda: a @ b)}
        runners = gpu_runner(a, b)
        row["gpu_optkern_s"] = average_time(runners[0]) if runners else math.nan
        row["gpu_cublas_s"] = average_time(runners[1]) if runners else math.nan
        row["quotient"] = row["cpu_optkern_s"] / row["gpu_optkern_s"]
        row["quotient_cublas"] = row["cpu_optkern_s"] / row["gpu_cublas_s"]
        print(", ".join(f"{k} {v:.4g}" for k, v in row.items()), flush=True)
        rows.append(row)
    return rows


def plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["n"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    if not math.isnan(rows[0]["quotient"]):
        ax.plot(n, [r["quotient"] for r in rows], "o-", label="optkern CPU / optkern GPU")
        ax.plot(n, [r["quotient_cublas"] for r in rows], "s--", label="optkern CPU / cuBLAS")
        ax.axhline(70, color="grey", lw=0.5, ls=":")
        ax.axhline(10, color="grey", lw=0.5, ls=":")
        ax.set_ylabel("CPU time / GPU time")
    else:
        for key, label in (("cpu_optkern_s", "optkern"), ("cpu_numpy_s", "numpy")):
            ax.plot(n, [2 * r["n"] ** 3 / r[key] / 1e9 for r in rows], "o-", label=label)
        ax.set_ylabel("CPU GFLOP/s (no GPU on this machine)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("matrix dimension n (float32)")
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-n", type=int, default=8192)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    args = parser.parse_args()
    sizes = [n for n in (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192) if n <= args.max_n]
    rows = measure(sizes)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "cpu_vs_gpu_matmul.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    info = optkern.build_info()
    gpu = info["cuda_devices"][0]["name"] if info["cuda_devices"] else "no GPU"
    title = f"{optkern.get_num_threads()} CPU threads vs {gpu} (thesis: up to ~70, then ~10)"
    plot(rows, args.out / "cpu_vs_gpu_matmul.png", title)
    print(f"wrote {args.out / 'cpu_vs_gpu_matmul.csv'} and .png")


if __name__ == "__main__":
    main()
