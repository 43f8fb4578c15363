"""Every kernel on every SIMD level of one dispatching build, beside a build for this machine
only (-DOPTKERN_ARCH=native): the price of a portable wheel (issue 11).

Each level runs in its own process with OPTKERN_SIMD forced; the native build is the package
installed with `pip install --target DIR -Ccmake.define.OPTKERN_ARCH=native .`, passed as
--native DIR. Each case is warmed up, then timed as the best of --repeats runs, on the
default thread count (stated in the header). The last column is the dispatched build's best
level (the one a user gets) over the native build: 1.00 is no loss.

    python bench/simd_levels.py [--native DIR] [--repeats 7] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

CASES = {}


def case(name):
    def register(fn):
        CASES[name] = fn
        return fn
    return register


def timed(fn, repeats):
    from conftest import _best  # bench/conftest.py: the best of `repeats` runs

    fn()  # warm-up: page faults, thread start-up, lazily built tables
    return _best(fn, repeats)


def define_cases(np, optkern):
    rng = np.random.default_rng(0)

    for batch, n in ((20000, 16), (1000, 64), (1, 1024)):
        for dtype in ("float32", "float64"):
            a = rng.standard_normal((batch, n, n)).astype(dtype)
            b = rng.standard_normal((batch, n, n)).astype(dtype)
            case(f"bmm {dtype} {batch}x{n}x{n}")(lambda a=a, b=b: optkern.linalg.bmm(a, b))

    for dtype in ("float64", "float32"):
        x, y = rng.random((2000, 3)), rng.random((2000, 3))
        M = (((x[:, None] - y[None]) ** 2).sum(-1)).astype(dtype)
        case(f"sinkhorn plain {dtype} 2000x2000, 30 it")(
            lambda M=M: optkern.ot.sinkhorn(M, reg=0.05, method="plain", tol=0.0, max_iter=30))
    M = (((x[:1000, None] - y[None, :1000]) ** 2).sum(-1))
    case("sinkhorn log float64 1000x1000, 30 it")(
        lambda: optkern.ot.sinkhorn(M, reg=0.01, method="log", tol=0.0, max_iter=30))
    P = optkern.ot.sinkhorn(M[:300, :300], reg=0.05).plan
    W = rng.standard_normal(P.shape)
    case("sinkhorn_vjp float64 300x300")(lambda: optkern.ot.sinkhorn_vjp(P, W, 0.05))

    walk = np.cumsum(rng.standard_normal(10**6)) + rng.standard_normal(10**6)
    case("tv exact float64 n=1e6, lam=1")(lambda: optkern.tv.denoise(walk, 1.0))
    batch = (np.cumsum(rng.standard_normal((4096, 1000)), axis=1)).astype("float32")
    case("tv exact float32 4096x1000")(lambda: optkern.tv.denoise(batch, 1.0))
    small = batch[:256]
    case("tv irls float64 256x1000, 50 it")(
        lambda: optkern.tv.denoise(small.astype("float64"), 1.0, method="irls", tol=1e-300,
                                   max_iter=50))

    U = optkern.givens.planted(128, 448, rng)
    case("givens l1 d=128, 1000 steps")(lambda: optkern.givens.factorize(U, 1000))

    rosen = optkern.optimize.problems.rosenbrock(10000)
    x0 = np.zeros(10000)
    case("lbfgs rosenbrock n=1e4, 200 it")(
        lambda: optkern.optimize.minimize(rosen, x0, max_iter=200, gtol=0.0, ftol=0.0))
    starts = rng.random((10000, 8))
    rosen8 = optkern.optimize.problems.rosenbrock(8)
    case("lbfgs batch 10000 x rosenbrock n=8")(
        lambda: optkern.optimize.minimize_batch(rosen8, starts))


def child(repeats):
    import numpy as np

    import optkern

    define_cases(np, optkern)
    info = optkern.build_info()
    times = {name: timed(fn, repeats) for name, fn in CASES.items()}
    print(json.dumps({"simd": info["simd"], "compiled": info["simd_compiled"],
                      "threads": info["num_threads"], "times": times}))


def run(level=None, path=None, repeats=7):
    env = dict(os.environ)
    env.pop("OPTKERN_SIMD", None)
    if level is not None:
        env["OPTKERN_SIMD"] = level
    if path is not None:
        env["PYTHONPATH"] = path + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, __file__, "--child", "--repeats", str(repeats)],
                          env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--native", help="folder holding a -DOPTKERN_ARCH=native build")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.repeats)
        return

    default = run(repeats=args.repeats)
    levels = [lv for lv in default["compiled"]
              if default["compiled"].index(lv) <= default["compiled"].index(default["simd"])]
    builds = {lv: dict(level=lv) for lv in reversed(levels)}
    if args.native:
        builds = {"native": dict(path=args.native), **builds}
    columns = list(builds)
    # Rounds interleave the builds, and each case keeps its best time over all rounds: on a
    # small VM, thread wake-ups and a neighbour's load move single runs by tens of percent.
    results = {}
    for _ in range(args.rounds):
        for column, how in builds.items():
            got = run(repeats=args.repeats, **how)
            if column == "native" and got["compiled"] != ["native"]:
                raise SystemExit(f"--native {args.native}: that import found a build with "
                                 f"levels {got['compiled']}, not a native build")
            if column in results:
                best = results[column]["times"]
                got["times"] = {k: min(v, best[k]) for k, v in got["times"].items()}
            results[column] = got
    print(f"threads: {default['threads']}; default level here: {default['simd']}; "
          f"best of {args.repeats} runs x {args.rounds} interleaved rounds, ms")
    header = "| kernel | " + " | ".join(columns) + " |"
    if args.native:
        header += f" {default['simd']} / native |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name in CASES or default["times"]:
        row = [f"{results[c]['times'][name] * 1e3:.2f}" for c in columns]
        line = f"| {name} | " + " | ".join(row) + " |"
        if args.native:
            ratio = results[default["simd"]]["times"][name] / results["native"]["times"][name]
            line += f" {ratio:.2f} |"
        print(line)


if __name__ == "__main__":
    main()
