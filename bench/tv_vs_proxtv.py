"""optkern.tv.denoise (exact) against prox_tv's tv1_1d methods and tv1w_1d, one thread, in one
process, interleaved (each repeat times every contender once), best of the repeats.

    python bench/tv_vs_proxtv.py [--sizes 1000,100000,1000000] [--repeats 3] [--weighted]
        [--before DIR]

--before DIR also times another build of optkern (DIR holds its installed package, e.g. from
`pip install --target DIR .` at an older commit) in the same process: its compiled core is
loaded under another name, and its optkern/tv/__init__.py and _cpu.py run on it (the rest of
optkern they import is this build's). Rates in Msamples/s, end to end through
optkern.tv.denoise unless said, from this thread's CPU time (time.thread_time). Only ratios
mean anything on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_tv_grid import SIGNALS, signal  # noqa: E402  (the grid's signals, one definition)

METHODS = ["hybridtautstring", "classictautstring", "linearizedtautstring", "condat"]


def load_before(folder):
    """tv._cpu of the build in `folder`, running on that build's compiled core."""
    import ctypes
    import glob
    import importlib.machinery
    import importlib.util
    import types

    so = glob.glob(os.path.join(folder, "optkern", "_core*.so"))[0]
    loader = importlib.machinery.ExtensionFileLoader("optkern_before._core", so)
    spec = importlib.util.spec_from_loader("optkern_before._core", loader)
    # The two builds' pybind11 would share one registry of bound types (in the interpreter's
    # state dict) and the second would find its types taken: hide the first's entries while
    # the second loads, so that it makes its own.
    api = ctypes.pythonapi
    api.PyInterpreterState_Get.restype = ctypes.c_void_p
    api.PyInterpreterState_GetDict.restype = ctypes.py_object
    api.PyInterpreterState_GetDict.argtypes = [ctypes.c_void_p]
    state = api.PyInterpreterState_GetDict(api.PyInterpreterState_Get())
    hidden = {k: state.pop(k) for k in list(state) if "pybind11" in str(k)}
    try:
        core = importlib.util.module_from_spec(spec)
        loader.exec_module(core)
    finally:
        for k in [k for k in list(state) if "pybind11" in str(k)]:
            del state[k]
        state.update(hidden)
    module = types.ModuleType("optkern_before_tv_cpu")
    with open(os.path.join(folder, "optkern", "tv", "_cpu.py")) as f:
        exec(compile(f.read(), f.name, "exec"), module.__dict__)
    module._backend = types.SimpleNamespace(_core=core)
    # Its public tv.denoise as well (the argument handling in front of _cpu changes too), with
    # its _cpu bound to the module above; what it imports from the rest of optkern is this
    # build's.
    public = types.ModuleType("optkern_before_tv")
    with open(os.path.join(folder, "optkern", "tv", "__init__.py")) as f:
        exec(compile(f.read(), f.name, "exec"), public.__dict__)
    public._cpu = module
    return public


def best_time(fn, budget):
    """Best per-call time of fn over batches of calls filling about `budget` seconds of this
    thread's CPU time (time.thread_time: another process on the core does not count), each
    batch at least 1 ms (a short call is not timed alone: the clock costs about as much)."""
    t0 = time.thread_time()
    fn()
    calls = max(1, int(1e-3 / max(time.thread_time() - t0, 1e-7)))
    best = np.inf
    end = time.thread_time() + budget
    while True:
        t0 = time.thread_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.thread_time() - t0) / calls)
        if time.thread_time() > end:
            return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,100000,1000000")
    ap.add_argument("--signals", default="walk,blocks,noise,sine")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--lams", type=int, default=6)
    ap.add_argument("--weighted", action="store_true")
    ap.add_argument("--kernel", action="store_true", help="also time the bare C++ entry")
    ap.add_argument("--before", help="folder of another optkern build to time alongside")
    ap.add_argument("--f32", action="store_true", help="also time optkern on float32 signals")
    args = ap.parse_args()
    import prox_tv as ptv

    import optkern
    import optkern.tv
    from optkern import _backend
    from optkern.tv import denoise, lambda_max

    before_cpu = load_before(args.before) if args.before else None
    before = before_cpu.denoise if before_cpu else None

    optkern.set_num_threads(1)
    print(f"# load average {os.getloadavg()}")
    b_col = "optkern before | " if before_cpu else ""
    b_ratio = " | before ratio" if before_cpu else ""
    k_col = "kernel only | " if args.kernel else ""
    k_col += "optkern f32 | " if args.f32 else ""
    hdr = f"| signal | n | λ | {b_col}optkern | {k_col}best prox_tv (method) | ratio{b_ratio} |"
    if args.weighted:
        f_col = ("before f32 | " if before_cpu else "") + "optkern f32 | " if args.f32 else ""
        f_ratio = " | f32 ratio" if args.f32 else ""
        hdr = (f"| signal | n | λ (weights U(0, 2λ)) | {b_col}optkern | {f_col}"
               f"prox_tv tv1w_1d | ratio{b_ratio}{f_ratio} |")
    print(hdr)
    print("|" + " --- |" * (hdr.count("|") - 1))
    for n in [int(v) for v in args.sizes.split(",")]:
        budget = 0.02 if n <= 1000 else 0.1
        for kind in args.signals.split(","):
            x = signal(kind, n)
            sigma = SIGNALS[kind]
            lams = np.geomspace(0.01 * sigma, max(float(lambda_max(x)) / 10, 0.02 * sigma),
                                args.lams)
            for lam in lams:
                lam = float(lam)
                if args.weighted:
                    w = np.random.default_rng(1).uniform(0, 2 * lam, n - 1)
                    cont = {"optkern": lambda: denoise(x, w),
                            "tv1w_1d": lambda: ptv.tv1w_1d(x, w)}
                    if before_cpu:
                        cont["before"] = lambda: before(x, w)
                        assert np.array_equal(before(x, w), denoise(x, w)) or \
                            np.abs(before(x, w) - denoise(x, w)).max() < 1e-9 * (1 + lam)
                    if args.f32:
                        x32 = x.astype(np.float32)
                        cont["f32"] = lambda: denoise(x32, w)
                        if before_cpu:
                            cont["before_f32"] = lambda: before(x32, w)
                else:
                    cont = {"optkern": lambda: denoise(x, lam)}
                    if before_cpu:
                        cont["before"] = lambda: before(x, lam)
                        diff = np.abs(before(x, lam) - denoise(x, lam)).max()
                        assert diff <= 1e-9 * (np.abs(x).max() + lam), diff
                    if args.kernel:
                        rows = x.reshape(1, n)
                        lr = np.array([lam])
                        out = np.empty_like(rows)
                        cont["kernel"] = lambda: _backend._core.tv.denoise(rows, lr, out)
                    if args.f32:
                        x32 = x.astype(np.float32)
                        cont["f32"] = lambda: denoise(x32, lam)
                    for m in METHODS:
                        cont[m] = (lambda m=m: ptv.tv1_1d(x, lam, method=m))
                best = {k: np.inf for k in cont}
                for _ in range(args.repeats):
                    for k, f in cont.items():
                        best[k] = min(best[k], best_time(f, budget))
                rate = {k: n / v / 1e6 for k, v in best.items()}
                peer = "tv1w_1d" if args.weighted else max(METHODS, key=lambda m: rate[m])
                bef = f" {rate['before']:.1f} |" if before_cpu else ""
                kern = f" {rate['kernel']:.1f} |" if args.kernel else ""
                kern += f" {rate['f32']:.1f} |" if args.f32 else ""
                if args.weighted:
                    kern = f" {rate['before_f32']:.1f} |" if args.f32 and before_cpu else ""
                    kern += f" {rate['f32']:.1f} |" if args.f32 else ""
                name = "" if args.weighted else f" ({peer})"
                bratio = f" {rate['before'] / rate[peer]:.2f}x |" if before_cpu else ""
                fratio = (f" {rate['f32'] / rate[peer]:.2f}x |" if args.weighted and args.f32
                          else "")
                print(f"| {kind} | {n:.0e} | {lam:.3g} |{bef} {rate['optkern']:.1f} |{kern} "
                      f"{rate[peer]:.1f}{name} | {rate['optkern'] / rate[peer]:.2f}x |{bratio}"
                      f"{fratio}")
                sys.stdout.flush()


if __name__ == "__main__":
    main()
