"""The package surface every kernel relies on: version, build info, CUDA detection, threads."""

import doctest
import importlib

import numpy as np
import pytest

import optkern


def test_version_matches_cmake_project():
    import re
    from pathlib import Path

    cmake = Path(__file__).resolve().parents[2] / "CMakeLists.txt"
    if not cmake.exists():
        pytest.skip("source tree not available")
    declared = re.search(r"project\(optkern VERSION ([0-9.]+)", cmake.read_text()).group(1)
    assert optkern.__version__ == declared


def test_build_info_reports_the_build():
    info = optkern.build_info()
    for key in ("version", "compiler", "eigen_version", "simd", "num_threads", "cuda_compiled",
                "cuda_devices", "cuda_available"):
        assert key in info
    assert info["version"] == optkern.__version__
    assert info["eigen_version"].startswith("3.4") or info["eigen_version"].startswith("5.")
    assert info["num_threads"] >= 1
    assert info["simd"] in info["simd_compiled"]
    assert isinstance(info["simd_flags"], list) and info["simd_bytes"] in (16, 32, 64)
    assert info["cuda_available"] == (len(info["cuda_devices"]) > 0)


def test_cuda_available_is_a_bool_and_consistent():
    assert isinstance(optkern.cuda_available(), bool)
    if not optkern.build_info()["cuda_compiled"]:
        assert optkern.cuda_available() is False


def test_set_num_threads_round_trip():
    old = optkern.set_num_threads(1)
    try:
        assert optkern.get_num_threads() == 1
    finally:
        optkern.set_num_threads(old)
    assert optkern.get_num_threads() == old


@pytest.mark.parametrize("bad", [1.5, "2", None, True])
def test_set_num_threads_rejects_non_integers(bad):
    with pytest.raises(ValueError, match="^n:"):
        optkern.set_num_threads(bad)


# Every module that defines a public function or class (tests/packaging/test_docstrings.py checks
# that each one is listed, so that its Examples run here).
DOCTEST_MODULES = [
    "optkern", "optkern._backend", "optkern._threads", "optkern._cpp_package", "optkern.linalg",
    "optkern.tv", "optkern.tv._result", "optkern.ot._sinkhorn", "optkern.ot._vjp",
    "optkern.ot._result",
    "optkern.givens._factorize", "optkern.givens._jacobi", "optkern.givens._sequence",
    "optkern.givens._metrics", "optkern.givens._graphs", "optkern.givens._planted",
    "optkern.givens._driver", "optkern.ot", "optkern.optimize._minimize",
    "optkern.optimize._batch", "optkern.optimize._result", "optkern.optimize.problems",
    "optkern._progress", "optkern.torch._ot", "optkern.torch._tv", "optkern.jax._ot",
    "optkern.jax._tv",
    "optkern.ot._losses", "optkern.ot._divergence", "optkern.torch._losses", "optkern.jax._losses",
    "optkern.ot._unbalanced", "optkern.ot._points", "optkern.torch._unbalanced",
    "optkern.jax._unbalanced", "optkern.torch._points",
]


@pytest.mark.parametrize("module", DOCTEST_MODULES)
def test_docstring_examples_run(module):
    for framework in ("torch", "jax"):  # optional: their adapters are checked where installed
        if module.startswith(f"optkern.{framework}."):
            pytest.importorskip(framework)
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_import_does_not_pull_gpu_frameworks():
    import subprocess
    import sys

    code = "import sys, optkern; print('torch' in sys.modules, 'cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_results_are_plain_numpy():
    c = optkern.linalg.bmm(np.eye(2), np.eye(2))
    assert type(c) is np.ndarray
