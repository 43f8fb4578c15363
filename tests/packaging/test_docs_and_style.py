"""The documentation site builds with every warning an error and its doctests pass
(docs/build.sh), and the sources pass ruff and the clang-format check, as CI requires. Each
check needs its tool from the docs or lint extra (pip install ".[test,docs,lint]") and skips
itself without it, or outside a source checkout."""

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(args, timeout=900, env=None):
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=env)


def clang_format():
    """The lint extra's clang-format: next to this Python's scripts (not always on PATH)."""
    beside = Path(sysconfig.get_path("scripts")) / "clang-format"
    return str(beside) if beside.exists() else shutil.which("clang-format")


@pytest.mark.skipif(not (ROOT / "docs" / "conf.py").exists(), reason="no source checkout")
@pytest.mark.skipif(importlib.util.find_spec("sphinx") is None, reason="needs the docs extra")
def test_docs_build_without_warnings_and_doctests_pass():
    # build.sh calls `python`: the interpreter running these tests, whether or not its
    # environment is activated.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    done = run(["bash", "docs/build.sh"], env={**os.environ, "PATH": path})
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]


@pytest.mark.skipif(not (ROOT / "pyproject.toml").exists(), reason="no source checkout")
@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="needs the lint extra")
def test_ruff_passes():
    done = run([sys.executable, "-m", "ruff", "check", "python", "tests", "bench", "docs"])
    assert done.returncode == 0, done.stdout[-5000:]


@pytest.mark.skipif(not (ROOT / "scripts" / "check_format.sh").exists(),
                    reason="no source checkout")
@pytest.mark.skipif(clang_format() is None, reason="needs the lint extra")
def test_listed_sources_are_clang_formatted():
    done = run(["bash", "scripts/check_format.sh"],
               env={**os.environ, "CLANG_FORMAT": clang_format()})
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
