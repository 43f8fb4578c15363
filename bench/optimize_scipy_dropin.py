"""optkern.optimize.minimize as a SciPy drop-in (issue 14): every table in one run, with
SciPy beside optkern.

1. The 53 Moré–Wild problems (tests/reference/mgh.py), unbounded: lbfgs against SciPy's
   L-BFGS-B and bfgs against SciPy's BFGS (ftol=0 for bfgs: SciPy's BFGS stops on gtol
   only), default settings otherwise; bounded in [x0 - 1, x0 + 1]: lbfgs (L-BFGS-B) against
   SciPy's L-BFGS-B. f at the end and f+g evaluations per problem, and the totals. "worse"
   marks a problem where optkern's f is above SciPy's by more than 1e-8 of the decrease SciPy
   achieved from f(x0); where rounding decides L-BFGS-B's end point (cube: see
   tests/reference/mgh.py), it compares the medians over starts within 1e-13 of x0, as
   tests/optimize/test_optimize_mgh.py does, and the last column shows them.
2. Overhead per iteration with a Python objective at n = 1000 (the objective's own time,
   measured in the same wrapper for both, subtracted): a quadratic with condition 1e4, 300
   iterations (gtol=0, ftol=0), unbounded and bounded (half the variables at a bound).
   optkern and SciPy alternate run by run; the best run of each is kept.
3. A batch of bounded problems: minimize_batch on a native Rosenbrock problem (n = 8, a
   per-problem box) against a Python loop of scipy.optimize.minimize(method="L-BFGS-B")
   over the same problems (objective: the same native problem, called from Python). In
   each of 3 rounds optkern solves the whole batch and SciPy a third of it (its time scaled
   to the whole batch); the best round of each is kept, and every problem's f is compared.

On a shared machine only these interleaved ratios mean something: the absolute times move
with the load of other jobs. SciPy runs with one OpenBLAS thread (threadpoolctl). Run:
    python bench/optimize_scipy_dropin.py            # full sizes (10,000 problems)
    python bench/optimize_scipy_dropin.py --quick    # small sizes, to check it runs
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np
import scipy.optimize as so
import threadpoolctl

import optkern
from optkern.optimize import minimize, minimize_batch, problems

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from reference import mgh  # noqa: E402

SCIPY = {"lbfgs": "L-BFGS-B", "bfgs": "BFGS"}


def more_wild(method: str, bounded: bool) -> None:
    options = dict(ftol=0.0) if method == "bfgs" else {}
    label = f"{method} vs SciPy {SCIPY[method]}" + (", box [x0-1, x0+1]" if bounded else "")
    print(f"\n### Moré–Wild set: {label}\n")
    print("| problem | optkern f | nfev | SciPy f | nfev | |")
    print("|---|---|---|---|---|---|")
    ours_total = theirs_total = worse = 0
    for p in mgh.problems():
        bounds = [(v - 1, v + 1) for v in p.x0] if bounded else None

        def solve_ours(x, p=p, bounds=bounds):
            return minimize(p, x, method=method, bounds=bounds, **options)

        def solve_theirs(x, p=p, bounds=bounds):
            return so.minimize(p, x, jac=True, method=SCIPY[method], bounds=bounds)

        note = ""
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = mgh.run_pair(p, method, solve_ours, solve_theirs)
            ours, ours_nfev, ours_f = r.ours, r.ours_nfev, r.ours_f
            theirs, theirs_nfev, theirs_f = r.theirs, r.theirs_nfev, r.theirs_f
            if method == "lbfgs" and mgh.NAMES[p.k] in mgh.ROUNDING_DECIDED:
                note = f"median of {mgh.NUDGED_STARTS}: {ours_f:.6g} / {theirs_f:.6g} "
        bad = ours_f - theirs_f > 1e-8 * (p.value(p.x0) - theirs_f)
        worse += bad
        ours_total += ours_nfev
        theirs_total += theirs_nfev
        print(f"| {p.name} | {ours.fun:.6g} | {ours_nfev} | {theirs.fun:.6g} | {theirs_nfev} | "
              f"{note}{'worse' if bad else ''} |")
    print(f"| **total (53)** | | **{ours_total}** | | **{theirs_total}** | "
          f"{ours_total / theirs_total:.3f}x, {worse} worse |")


class Timed:
    """The objective, with the time spent in it."""

    def __init__(self, fg):
        self.fg = fg
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, x):
        t = time.perf_counter()
        out = self.fg(x)
        self.seconds += time.perf_counter() - t
        self.calls += 1
        return out


def overhead(n: int, iterations: int, repeats: int) -> None:
    d = np.logspace(0, 4, n)
    c = np.linspace(-1, 1, n)

    def fg(x):
        r = x - c
        return float(0.5 * (d * r) @ r), d * r

    x0 = np.full(n, 2.0)
    print(f"\n### Overhead per iteration, Python objective, n = {n} ({iterations} iterations, "
          f"best of {repeats})\n")
    print("| case | optkern µs/iter | SciPy µs/iter | SciPy / optkern |")
    print("|---|---|---|---|")
    for bounded in (False, True):
        bounds = [(-1.0, 3.0) if i % 2 else (1.5, 3.0) for i in range(n)] if bounded else None
        best = {}
        for _ in range(repeats):
            for name in ("optkern", "scipy"):  # interleaved: both see the same load
                f = Timed(fg)
                t = time.perf_counter()
                if name == "optkern":
                    res = minimize(f, x0, bounds=bounds, gtol=0.0, ftol=0.0, max_iter=iterations,
                                   max_fev=10 * iterations)
                else:
                    with threadpoolctl.threadpool_limits(1):
                        res = so.minimize(f, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                                          options=dict(gtol=0.0, ftol=0.0, maxiter=iterations,
                                                       maxfun=10 * iterations))
                total = time.perf_counter() - t
                per_iter = (total - f.seconds) / max(res.nit, 1) * 1e6
                best[name] = min(best.get(name, np.inf), per_iter)
        print(f"| {'bounded (L-BFGS-B)' if bounded else 'unbounded'} | {best['optkern']:.1f} | "
              f"{best['scipy']:.1f} | {best['scipy'] / best['optkern']:.1f}x |")


def batch(count: int, scipy_count: int) -> None:
    n = 8
    p = problems.rosenbrock(n)
    rng = np.random.default_rng(0)
    x0 = rng.uniform(-1.5, 1.5, (count, n))
    lo = x0 - rng.uniform(0.5, 1.5, (count, n))
    hi = x0 + rng.uniform(0.5, 1.5, (count, n))
    box = np.stack([lo, hi], axis=-1)
    rounds = 3
    ours = theirs = np.inf
    agree = 0
    for r in range(rounds):  # interleaved: optkern's whole batch, then a third of SciPy's
        t = time.perf_counter()
        res = minimize_batch(p, x0, bounds=box)
        ours = min(ours, time.perf_counter() - t)
        rows = range(r * scipy_count // rounds, (r + 1) * scipy_count // rounds)
        t = time.perf_counter()
        with threadpoolctl.threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for b in rows:
                s = so.minimize(p, x0[b], jac=True, method="L-BFGS-B",
                                bounds=list(zip(lo[b], hi[b])))
                agree += abs(s.fun - res.fun[b]) <= 1e-6 * max(1.0, abs(s.fun))
        theirs = min(theirs, (time.perf_counter() - t) * count / len(rows))
    threads = optkern.get_num_threads()
    print(f"\n### {count:,} bounded Rosenbrock problems (n = {n}, per-problem box)\n")
    print("| implementation | seconds | problems/s |")
    print("|---|---|---|")
    print(f"| optkern minimize_batch (native, {threads} threads) | {ours:.3f} | "
          f"{count / ours:,.0f} |")
    note = f" (best of {rounds} rounds of {scipy_count // rounds:,}, scaled)"
    print(f"| SciPy L-BFGS-B, Python loop{note} | {theirs:.2f} | {count / theirs:,.0f} |")
    print(f"\nSpeed-up {theirs / ours:.0f}x; same f (1e-6) on {agree}/{scipy_count} problems; "
          f"{int(res.success.sum())}/{count} converged.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, to check it runs")
    args = parser.parse_args()
    more_wild("lbfgs", False)
    more_wild("bfgs", False)
    more_wild("lbfgs", True)
    if args.quick:
        overhead(100, 20, 1)
        batch(200, 50)
    else:
        overhead(1000, 300, 5)
        batch(10_000, 10_000)


if __name__ == "__main__":
    main()
