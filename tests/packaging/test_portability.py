"""Portability (issue 11). Run-time SIMD dispatch: the level in use is the best this CPU can
run, every level this CPU supports passes the smoke test when forced with OPTKERN_SIMD, and
asking for a level that cannot run fails at import with a clear error instead of crashing
later. A build without CUDA says so when asked for device="cuda"."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import optkern

SMOKE = Path(__file__).with_name("smoke.py")
LEVELS = ("baseline", "avx2", "avx512")
info = optkern.build_info()
dispatching = len(info["simd_compiled"]) > 1


def cpu_flags():
    """The CPU's feature flags as Linux reports them (None elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return None


def best_level(flags):
    """The highest level the kernel reports support for (it only lists AVX and AVX-512 when
    the OS saves their registers), from x86-64-v3's and -v4's feature lists."""
    v4 = {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}
    v3 = {"avx", "avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "abm"}
    if v3 <= flags and v4 <= flags:
        return "avx512"
    if v3 <= flags:
        return "avx2"
    return "baseline"


def run_python(args, level=None, **kwargs):
    env = dict(os.environ)
    env.pop("OPTKERN_SIMD", None)
    if level is not None:
        env["OPTKERN_SIMD"] = level
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          timeout=600, **kwargs)


def supported_levels():
    flags = cpu_flags()
    if flags is None or not dispatching:
        return []
    best = best_level(flags)
    return [lv for lv in LEVELS[: LEVELS.index(best) + 1] if lv in info["simd_compiled"]]


def test_build_info_names_the_level_in_use():
    assert info["simd"] in info["simd_compiled"]
    assert isinstance(info["simd_flags"], list)
    if dispatching:
        assert info["simd_compiled"] == [lv for lv in LEVELS if lv in info["simd_compiled"]]
        assert info["simd_compiled"][0] == "baseline"
        expected_bytes = {"baseline": 16, "avx2": 32, "avx512": 64}[info["simd"]]
        assert info["simd_bytes"] == expected_bytes


@pytest.mark.skipif(not dispatching, reason="a single-level build (OPTKERN_ARCH set)")
def test_default_level_is_the_best_the_cpu_runs():
    flags = cpu_flags()
    if flags is None:
        pytest.skip("no /proc/cpuinfo to compare with")
    if os.environ.get("OPTKERN_SIMD"):
        pytest.skip("OPTKERN_SIMD is set for this run")
    assert info["simd"] == best_level(flags)


@pytest.mark.skipif(not dispatching, reason="a single-level build (OPTKERN_ARCH set)")
@pytest.mark.parametrize("level", LEVELS)
def test_every_supported_level_passes_the_smoke_test(level, tmp_path):
    if level not in supported_levels():
        pytest.skip(f"this CPU cannot run {level}")
    done = run_python([str(SMOKE)], level=level, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["simd"] == level and report["checks"] >= 40


@pytest.mark.skipif(not dispatching, reason="a single-level build (OPTKERN_ARCH set)")
def test_levels_agree_to_rounding(tmp_path):
    """The same products, transport plans, TV solutions and minimisers on every level, to the
    rounding that FMA contraction and other vector widths change (and, for the iterative
    solvers, their stopping tolerances)."""
    levels = supported_levels()
    if len(levels) < 2:
        pytest.skip("this CPU runs one level only")
    script = (
        "import numpy as np, optkern\n"
        "rng = np.random.default_rng(5)\n"
        "a = rng.standard_normal((3, 50, 40)); b = rng.standard_normal((3, 40, 70))\n"
        "M = rng.random((30, 20)); x = np.cumsum(rng.standard_normal((4, 300)), axis=1)\n"
        "r = optkern.optimize.minimize(optkern.optimize.problems.rosenbrock(6), np.zeros(6))\n"
        "np.savez(__import__('sys').argv[1], bmm=optkern.linalg.bmm(a, b),\n"
        "         plan=optkern.ot.sinkhorn(M, reg=0.05).plan, tv=optkern.tv.denoise(x, 2.0),\n"
        "         x=r.x)\n")
    tolerance = {"bmm": 1e-12, "plan": 1e-8, "tv": 1e-9, "x": 1e-5}
    results = {}
    for level in levels:
        out = tmp_path / f"{level}.npz"
        done = run_python(["-c", script, str(out)], level=level, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        results[level] = dict(__import__("numpy").load(out))
    import numpy as np

    first = results[levels[0]]
    for level in levels[1:]:
        for key, ref in first.items():
            scale = max(1.0, float(np.abs(ref).max()))
            np.testing.assert_allclose(results[level][key], ref, rtol=0,
                                       atol=tolerance[key] * scale,
                                       err_msg=f"{key} on {level} vs {levels[0]}")


def test_unknown_level_fails_at_import(tmp_path):
    done = run_python(["-c", "import optkern"], level="sse9", cwd=tmp_path)
    assert done.returncode != 0
    assert "ImportError" in done.stderr and "OPTKERN_SIMD=sse9" in done.stderr


@pytest.mark.skipif(not dispatching, reason="a single-level build (OPTKERN_ARCH set)")
def test_level_the_cpu_lacks_fails_at_import(tmp_path):
    flags = cpu_flags()
    if flags is None or best_level(flags) == "avx512":
        pytest.skip("this CPU runs every level (the packaging check tries this under qemu)")
    done = run_python(["-c", "import optkern"], level="avx512", cwd=tmp_path)
    assert done.returncode != 0 and "does not support" in done.stderr


def test_a_build_without_cuda_says_so(monkeypatch):
    """A wheel built without nvcc has no optkern._cuda: device="cuda" names the reason."""
    import numpy as np

    from optkern import _backend

    monkeypatch.setattr(_backend, "_cuda", None)
    monkeypatch.setattr(_backend, "_CUDA_IMPORT_ERROR", None)
    _backend._cuda_devices.cache_clear()
    try:
        assert not optkern.cuda_available()
        with pytest.raises(ValueError, match="this build of optkern has no CUDA support"):
            optkern.linalg.bmm(np.ones((2, 2)), np.ones((2, 2)), device="cuda")
    finally:
        _backend._cuda_devices.cache_clear()
