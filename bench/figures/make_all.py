"""Regenerate every reproduced figure into bench/figures/out/ (PNG and CSV each).

    python bench/figures/make_all.py            # the full-size runs (tens of minutes on 2 cores)
    python bench/figures/make_all.py --quick    # tiny sizes: checks every script end to end
    python bench/figures/make_all.py --only givens_fig5_gft

| script | reproduces |
| --- | --- |
| rosenbrock_optimizers.py | thesis Figure 2: GD, modified Newton, BFGS, L-BFGS on Rosenbrock |
| cpu_vs_gpu_matmul.py | thesis Figure 4: CPU/GPU time quotient of a matrix product |
| givens_fig2_error_vs_factors.py | Frerix & Bruna Figure 2: error against the number of factors |
| givens_fig34_neps.py | Frerix & Bruna Figures 3 and 4: N_eps against K, and its exponent |
| givens_fig5_gft.py | Frerix & Bruna Figure 5: approximate graph Fourier transforms |
| givens_beam_layers.py | issue 17: beam search and layered L1, error against factors and depth |
| sinkhorn_implicit_vs_unrolled.py | lecture notes Figures 36, 37: implicit vs unrolled gradient |
| tv_2d_denoise.py | 2-D TV (anisotropic and isotropic) on a noisy photograph, with PSNR |

Each script runs in its own process (a failure in one does not hide the others); the exit
status is non-zero if any failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# script name -> (arguments of the full run, arguments of the quick run)
SCRIPTS: dict[str, tuple[list[str], list[str]]] = {
    "rosenbrock_optimizers": ([], ["--n", "50", "--checkpoints", "4"]),
    "cpu_vs_gpu_matmul": ([], ["--max-n", "128"]),
    "givens_fig2_error_vs_factors": ([], ["--d", "16", "--samples", "1", "--points", "4"]),
    "givens_fig34_neps": ([], ["--dims", "8", "16", "--samples", "1"]),
    "givens_fig5_gft": ([], ["--sizes", "64", "--samples", "1"]),
    "givens_beam_layers": ([], ["--dims", "16", "--samples", "1", "--points", "4"]),
    "sinkhorn_implicit_vs_unrolled": ([], ["--sizes", "8,16"]),
    "tv_2d_denoise": ([], ["--size", "64", "--lams", "1"]),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds per script")
    parser.add_argument("--only", nargs="+", choices=sorted(SCRIPTS), help="a subset")
    args = parser.parse_args(argv)
    failed = []
    for name in args.only or SCRIPTS:
        full, quick = SCRIPTS[name]
        command = [sys.executable, str(HERE / f"{name}.py"), *(quick if args.quick else full)]
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        if subprocess.run(command, cwd=HERE).returncode != 0:
            failed.append(name)
        print(f"   {time.perf_counter() - start:.1f} s", flush=True)
    if failed:
        print("failed:", ", ".join(failed), file=sys.stderr)
    else:
        print(f"every figure is in {HERE / 'out'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
