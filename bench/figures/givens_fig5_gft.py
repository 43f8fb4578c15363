"""Reproduce Figure 5 of Frerix & Bruna (ICML 2019): approximate graph Fourier transforms. The
eigenvectors U of the Laplacian of a Barabasi-Albert graph (Table 1's m, giving about 25% and
50% of all possible edges) are approximated with n log2(n) Givens factors by L1 coordinate
descent, by the greedy Frobenius baseline and by truncated Jacobi on L (Le Magoarou et al.).

The paper used n up to 1024 and 10 samples; the defaults here run in minutes on 2 cores.

    python bench/figures/givens_fig5_gft.py [--sizes 64 128 256 512] [--samples 3]

Writes givens_fig5.csv (mean and std of ||U - U_hat||_sym / sqrt(n) per n, edge density and
method) and givens_fig5.png into bench/figures/out/.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from givens_common import OUT, dlogd, finish_plot, pyplot, write_csv

from optkern import givens

# Frerix & Bruna, Table 1: m for ~0.25 and ~0.5 of the n(n-1)/2 possible edges.
TABLE1 = {64: (54, 36), 128: (109, 69), 256: (218, 136), 512: (437, 267), 1024: (874, 528)}
METHODS = ("l1", "greedy", "jacobi")


def approximate(method: str, U: np.ndarray, L: np.ndarray, n: int) -> np.ndarray:
    if method == "jacobi":
        return givens.jacobi(L, n).to_dense()
    return givens.factorize(U, n, method=method).to_dense()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--samples", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        for _density, m in zip((0.25, 0.5), TABLE1[n]):
            errors = {method: [] for method in METHODS}
            start = time.perf_counter()
            for sample in range(args.samples):
                A = givens.barabasi_albert(n, m, np.random.default_rng(10 * n + sample))
                L = givens.laplacian(A)
                _, U = np.linalg.eigh(L)
                for method in METHODS:
                    approx = approximate(method, U, L, dlogd(n))
                    errors[method].append(givens.symmetrized_frobenius(U, approx, normalize=True))
            row = {"n": n, "m": m, "edge_fraction": m * (n - m) / (n * (n - 1) / 2)}
            for method in METHODS:
                row[f"{method}_mean"] = float(np.mean(errors[method]))
                row[f"{method}_std"] = float(np.std(errors[method]))
            rows.append(row)
            print(", ".join(f"{k} {v:.4g}" for k, v in row.items()),
                  f"({time.perf_counter() - start:.1f} s)", flush=True)
    write_csv(rows, OUT / "givens_fig5.csv")

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    colors = {"l1": "C0", "greedy": "C1", "jacobi": "C2"}
    labels = {"l1": "L1 coordinate descent", "greedy": "greedy (Frobenius)",
              "jacobi": "truncated Jacobi"}
    for density, style in ((0.5, "-"), (0.25, "--")):
        sub = [r for r in rows if abs(r["edge_fraction"] - density) < 0.05]
        for method in METHODS:
            ax.errorbar([r["n"] for r in sub], [r[f"{method}_mean"] for r in sub],
                        yerr=[r[f"{method}_std"] for r in sub], ls=style, marker="o",
                        capsize=2, color=colors[method],
                        label=f"{labels[method]}" if density == 0.5 else None)
    ax.set_xscale("log", base=2)
    finish_plot(fig, ax, "givens_fig5.png", xlabel="graph size n (n log2 n factors)",
                ylabel="||U - U_hat||_sym / sqrt(n)",
                title="Frerix & Bruna Fig. 5: Barabasi-Albert Laplacians "
                      f"(solid ~50%, dashed ~25% of edges; {args.samples} samples)", fontsize=8)


if __name__ == "__main__":
    main()
