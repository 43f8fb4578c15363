"""Reproduce Figures 3 and 4 of Frerix & Bruna (ICML 2019): N_eps, the fewest L1-descent factors
that approximate a K-planted matrix to ||U - G_1...G_N||_sym / sqrt(d) < eps = 0.1 (eq. 16),
against K, and the exponent eta of N_eps ~ d^eta fitted across d.

The paper used d in {256, 512, 1024} and 10 samples; the defaults here run in minutes on a
2-core machine. N_eps is capped at d(d-1)/2 factors (marked censored when not reached).

    python bench/figures/givens_fig34_neps.py [--dims 64 128 256] [--samples 3]

Writes givens_fig3.csv (N_eps per d and K), givens_fig4.csv (eta per K) and the two PNGs into
bench/figures/out/.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from givens_common import OUT, dlogd, error_after, pyplot, write_csv

from optkern import givens

EPS = 0.1


class StopBelow:
    """A factorize callback that keeps V_k = G_k^T ... G_1^T U and stops once its distance to
    the signed permutations (the approximation error) is below eps, checked every `every`
    steps; returns the last k checked above eps and the first below."""

    def __init__(self, U: np.ndarray, every: int):
        self.V = U.astype(np.float64).copy()
        self.I = np.eye(U.shape[0])
        self.every = every
        self.above = 0

    def __call__(self, step) -> bool:
        i, j, c, s = step.i, step.j, math.cos(step.theta), math.sin(step.theta)
        vi, vj = self.V[i].copy(), self.V[j]
        self.V[i] = c * vi - s * vj
        self.V[j] = s * vi + c * vj
        k = step.index + 1
        if k % self.every:
            return False
        if givens.symmetrized_frobenius(self.I, self.V, normalize=True) < EPS:
            return True
        self.above = k
        return False


def n_eps(U: np.ndarray) -> tuple[int, bool]:
    """(N_eps, reached) for the L1 descent on U."""
    d = U.shape[0]
    budget = d * (d - 1) // 2
    stop = StopBelow(U, every=max(1, d // 4))
    seq = givens.factorize(U, budget, callback=stop)
    lo, hi = stop.above, len(seq)  # error(lo) >= eps (or lo = 0), error(hi) maybe < eps
    if error_after(U, seq, hi) >= EPS:
        return hi, False
    while hi - lo > 1:  # the first k below eps, by bisection on prefixes
        mid = (lo + hi) // 2
        if error_after(U, seq, mid) < EPS:
            hi = mid
        else:
            lo = mid
    return hi, True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--alphas", type=float, nargs="+",
                        default=[0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0],
                        help="K / (d log2 d)")
    args = parser.parse_args()
    rows = []
    for d in args.dims:
        for alpha in args.alphas:
            k = max(1, round(alpha * dlogd(d)))
            start = time.perf_counter()
            values, reached = [], []
            for sample in range(args.samples):
                U = givens.planted(d, k, np.random.default_rng(1000 * d + sample))
                n, ok = n_eps(U)
                values.append(n)
                reached.append(ok)
            rows.append({"d": d, "alpha": alpha, "planted": k,
                         "n_eps_mean": float(np.mean(values)), "n_eps_std": float(np.std(values)),
                         "n_eps_over_dlogd": float(np.mean(values)) / dlogd(d),
                         "censored": int(not all(reached))})
            print(f"d={d} K={k}: N_eps {np.mean(values):.0f} +- {np.std(values):.0f}"
                  f"{' (censored)' if not all(reached) else ''}, "
                  f"{time.perf_counter() - start:.1f} s", flush=True)
    write_csv(rows, OUT / "givens_fig3.csv")

    # Fig. 4: eta from a least-squares fit of log N_eps against log d, per alpha.
    fits = []
    for alpha in args.alphas:
        pts = [(r["d"], r["n_eps_mean"]) for r in rows if r["alpha"] == alpha]
        if len(pts) >= 2:
            x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
            eta = float(np.polyfit(x, y, 1)[0])
            fits.append({"alpha": alpha, "eta": eta,
                         "censored": int(any(r["censored"] for r in rows if r["alpha"] == alpha))})
    if fits:
        write_csv(fits, OUT / "givens_fig4.csv")

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for d in args.dims:
        sub = [r for r in rows if r["d"] == d]
        ax.errorbar([r["alpha"] for r in sub], [r["n_eps_over_dlogd"] for r in sub],
                    yerr=[r["n_eps_std"] / dlogd(d) for r in sub], marker="o", capsize=2,
                    label=f"d = {d}")
    ax.set_xlabel("planted factors K / (d log2 d)")
    ax.set_ylabel("N_eps / (d log2 d), eps = 0.1")
    ax.set_title(f"Frerix & Bruna Fig. 3 ({args.samples} samples per point)", fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(OUT / "givens_fig3.png", dpi=120)
    print(f"wrote {OUT / 'givens_fig3.png'}")
    if fits:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot([f["alpha"] for f in fits], [f["eta"] for f in fits], "o-")
        ax.axhline(1, color="grey", lw=0.5, ls=":")
        ax.axhline(2, color="grey", lw=0.5, ls=":")
        ax.set_xlabel("planted factors K / (d log2 d)")
        ax.set_ylabel("eta in N_eps ~ d^eta")
        ax.set_title(f"Frerix & Bruna Fig. 4: fit over d in {args.dims}", fontsize=9)
        fig.tight_layout()
        fig.savefig(OUT / "givens_fig4.png", dpi=120)
        print(f"wrote {OUT / 'givens_fig4.png'}")


if __name__ == "__main__":
    main()
