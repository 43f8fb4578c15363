"""Two builds of optkern side by side on the same cases: a change that should not move
performance (a restructure, a refactor) is shown to leave it where it was.

Each build is a folder holding an installed ``optkern`` package (``pip install --target DIR .``,
or an unpacked wheel); each runs in its own process with that folder first on PYTHONPATH, so
run this script with a Python in which optkern is not installed as editable (an editable
install's import hook would win over PYTHONPATH; the script checks which build it got).
The cases are bench/simd_levels.py's (the kernels at sizes where they dominate) plus small
calls where the Python layer's overhead dominates. Rounds interleave the two builds and each
case keeps its best time: on a small shared machine single runs move by tens of percent.

    python bench/compare_builds.py BEFORE_DIR AFTER_DIR [--repeats 7] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import simd_levels  # noqa: E402  (bench/ is not a package)


def define_small_cases(np, optkern):
    """Calls small enough that the Python layer (checks, dispatch) is most of the time."""
    case = simd_levels.case
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    case("bmm float64 4x4 (overhead)")(lambda: optkern.linalg.bmm(a, b))
    d, e = -np.ones(16), 4 * np.ones(16)
    r = rng.standard_normal(16)
    case("tridiagonal_solve n=16 (overhead)")(lambda: optkern.linalg.tridiagonal_solve(d, e, d, r))
    M = rng.random((8, 8))
    case("sinkhorn 8x8 (overhead)")(lambda: optkern.ot.sinkhorn(M, reg=0.1))
    x = rng.standard_normal(64)
    case("tv exact n=64 (overhead)")(lambda: optkern.tv.denoise(x, 0.5))
    y = optkern.tv.denoise(x, 0.5)
    case("tv vjp n=64 (overhead)")(lambda: optkern.tv.denoise_vjp(y, x, 0.5))


def child(repeats):
    import numpy as np

    import optkern

    simd_levels.define_cases(np, optkern)
    define_small_cases(np, optkern)
    times = {name: simd_levels.timed(fn, repeats) for name, fn in simd_levels.CASES.items()}
    print(json.dumps({"file": optkern.__file__, "threads": optkern.get_num_threads(),
                      "simd": optkern.build_info()["simd"], "times": times}))


def run(path, repeats):
    env = dict(os.environ)
    env.pop("OPTKERN_SIMD", None)
    env["PYTHONPATH"] = path + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, __file__, "--child", "--repeats", str(repeats)],
                          env=env, capture_output=True, text=True, check=True)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    if not os.path.abspath(got["file"]).startswith(os.path.abspath(path)):
        raise SystemExit(f"{path}: the import found {got['file']} instead (an editable "
                         "install? run with a Python that does not have optkern installed)")
    return got


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    best: dict[str, dict[str, float]] = {}
    info = {}
    for _ in range(args.rounds):
        for column in ("before", "after"):
            got = run(getattr(args, column), args.repeats)
            info[column] = got
            old = best.get(column, {})
            best[column] = {k: min(v, old.get(k, v)) for k, v in got["times"].items()}
    print(f"threads: {info['after']['threads']}; SIMD level: {info['after']['simd']}; "
          f"best of {args.repeats} runs x {args.rounds} interleaved rounds, ms")
    print("| case | before | after | after / before |")
    print("|---|---|---|---|")
    for name, before in best["before"].items():
        after = best["after"][name]
        print(f"| {name} | {before * 1e3:.3f} | {after * 1e3:.3f} | {after / before:.2f} |")


if __name__ == "__main__":
    if "--child" in sys.argv:  # one build's run, in its own process
        child(int(sys.argv[sys.argv.index("--repeats") + 1]))
    else:
        main()
