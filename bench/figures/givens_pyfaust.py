"""optkern against pyfaust on the graph Fourier experiment (issue 17).

Barabasi-Albert Laplacians (Frerix & Bruna's Table 1 m, ~25% and ~50% of the edges), n = 128,
256, 512, n log2 n rotations: the symmetrized error ||U - U_hat||_sym / sqrt(n) of the
eigenvector matrix U and the wall time, for optkern's L1 coordinate descent (plain and
layered), greedy and truncated Jacobi, and pyfaust's eigtj (truncated Jacobi, one Givens
rotation per factor and its parallel variant with n/2 rotations per factor), in one run.

    pip install pyfaust          # the bench extra
    python bench/figures/givens_pyfaust.py [--sizes 128 256 512] [--samples 1]

Writes givens_pyfaust.csv into bench/figures/out/ and prints a markdown table.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from givens_common import OUT, dlogd, print_table, write_csv

import optkern
from optkern import givens

TABLE1 = {64: (54, 36), 128: (109, 69), 256: (218, 136), 512: (437, 267), 1024: (874, 528)}


def runs(n_rot: int, n: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pyfaust.fact import eigtj

    def faust(L, per_fac):
        _, V = eigtj(L, nGivens=n_rot, nGivens_per_fac=per_fac, order="undef",
                     enable_large_Faust=True)
        return V.toarray()

    return {
        "optkern l1": lambda U, L: givens.factorize(U, n_rot).to_dense(),
        "optkern l1 layered": lambda U, L: givens.factorize(U, n_rot, layered=True).to_dense(),
        "optkern greedy": lambda U, L: givens.factorize(U, n_rot, method="greedy").to_dense(),
        "optkern jacobi": lambda U, L: givens.jacobi(L, n_rot).to_dense(),
        "pyfaust eigtj": lambda U, L: faust(L, 1),
        "pyfaust eigtj parallel": lambda U, L: faust(L, n // 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    parser.add_argument("--samples", type=int, default=1)
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        n_rot = dlogd(n)
        for m in TABLE1[n]:
            fraction = m * (n - m) / (n * (n - 1) / 2)
            for name, fn in runs(n_rot, n).items():
                errors, times = [], []
                for sample in range(args.samples):
                    A = givens.barabasi_albert(n, m, np.random.default_rng(10 * n + sample))
                    L = givens.laplacian(A)
                    _, U = np.linalg.eigh(L)
                    start = time.perf_counter()
                    approx = fn(U, L)
                    times.append(time.perf_counter() - start)
                    errors.append(givens.symmetrized_frobenius(U, approx, normalize=True))
                rows.append({"n": n, "m": m, "edge_fraction": round(fraction, 3),
                             "rotations": n_rot, "method": name,
                             "error": float(np.mean(errors)), "seconds": float(np.mean(times))})
                print(rows[-1], flush=True)
    write_csv(rows, OUT / "givens_pyfaust.csv")
    print_table(f"\noptkern {optkern.get_num_threads()} threads; mean over {args.samples} samples",
                ["n", "edges", "rotations", "method", "error", "time"],
                (f"| {r['n']} | {r['edge_fraction']:.2f} | {r['rotations']} | {r['method']} | "
                 f"{r['error']:.3f} | {r['seconds']:.2f} s |" for r in rows))


if __name__ == "__main__":
    main()
