"""Typed use of optkern and of its compiled modules, as a user or optkern's own Python layer
writes it. tests/packaging/test_stubs.py checks it with ``mypy --strict`` (so every call here
must type-check against the stubs) and runs it (so every call here is also right at run time)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

import optkern
from optkern import _core


def core_calls() -> None:
    info = _core.build_info()
    version: str = info["version"]
    simd: str = info["simd"]
    compiled: list[str] = info["simd_compiled"]
    assert version == optkern.__version__ and simd in compiled
    old: int = _core.set_num_threads(1)
    assert _core.num_threads() == 1
    _core.set_num_threads(n=old)

    a = np.arange(6.0).reshape(1, 2, 3)
    b = np.ones((1, 3, 2))
    c = np.empty((1, 2, 2))
    _core.bmm_same_batch(a, b, c)
    assert np.allclose(c, a @ b)

    ones = np.ones((1, 4))
    x = np.empty((1, 4))
    count, first = _core.tridiagonal_solve(ones, 2 * ones, ones, ones, x)
    assert (count, first) == (0, -1)

    signal = np.array([[0.0, 1.0, 0.0, 1.0]])
    denoised = np.empty_like(signal)
    _core.tv_denoise(signal, np.array([10.0]), denoised)
    assert np.allclose(denoised, 0.5)

    c, s = np.cos(0.3), np.sin(0.3)
    rotation = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    engine = _core.GivensL1Descent64(rotation, threads=1)
    i, j = np.empty(3, np.int64), np.empty(3, np.int64)
    theta, score = np.empty(3), np.empty(3)
    steps: int = engine.run(3, i, j, theta, score, offset=0)
    converged: bool = engine.converged
    remaining: float = engine.l1_norm()
    matrix: NDArray[np.float64] = engine.matrix()
    assert steps >= 1 and isinstance(converged, bool) and remaining >= 3 - 1e-9
    assert matrix.shape == (3, 3)
    decrease, tangent = _core._testing.givens_best_l1_rotation(np.array([1.0, 0.0]),
                                                            np.array([0.0, 1.0]))
    assert isinstance(decrease, float) and isinstance(tangent, float)

    message: str = _core.optimize_status_message(0)
    start: NDArray[np.float64] = _core.optimize_problem_start(0, 0.0, 4)
    assert message and start.shape == (4,)


def cuda_calls() -> list[str]:
    """Names of the visible devices (none without a driver or a device)."""
    try:
        from optkern import _cuda
    except ImportError:  # a build without CUDA
        return []
    names = [d["name"] for d in _cuda.devices()]
    status: str = _cuda.driver_status()
    assert isinstance(status, str) and _cuda.GIVENS_MAX_DIM > 0
    return names


def package_calls() -> float:
    x = np.random.default_rng(0).standard_normal(32)
    y = optkern.tv.denoise(x, 0.5)
    assert y.shape == x.shape
    result = optkern.optimize.minimize(optkern.optimize.problems.rosenbrock(4), np.zeros(4))
    assert result.success
    seq = optkern.givens.GivensSequence([0], [1], [0.5], dim=2)
    dense: NDArray[np.float64] = seq.to_dense()
    assert dense.shape == (2, 2)
    moved: NDArray[np.float64] = seq @ np.ones(2)
    inverse: optkern.givens.GivensSequence = seq.T
    layers: list[NDArray[np.int64]] = seq.layers()
    assert moved.shape == (2,) and len(inverse) == 1 and len(layers) == seq.depth == 1
    return float(result.fun)


if __name__ == "__main__":
    core_calls()
    cuda_calls()
    package_calls()
