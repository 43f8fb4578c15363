"""Typed use of optkern and of its compiled modules, as a user or optkern's own Python layer
writes it. tests/packaging/test_stubs.py checks it with ``mypy --strict`` (so every call here
must type-check against the stubs) and runs it (so every call here is also right at run time)."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

import optkern
from optkern import _backend, _core


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
    _core.linalg.bmm_same_batch(a, b, c)
    assert np.allclose(c, a @ b)

    ones = np.ones((1, 4))
    x = np.empty((1, 4))
    count, first = _core.linalg.tridiagonal_solve(ones, 2 * ones, ones, ones, x)
    assert (count, first) == (0, -1)

    signal = np.array([[0.0, 1.0, 0.0, 1.0]])
    denoised = np.empty_like(signal)
    _core.tv.denoise(signal, np.array([10.0]), denoised)
    assert np.allclose(denoised, 0.5)

    c, s = np.cos(0.3), np.sin(0.3)
    rotation = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    engine = _core.givens.GivensL1Descent64(rotation, threads=1)
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
    single = np.array([1.0, 0.0], np.float32), np.array([0.0, 1.0], np.float32)
    assert _core._testing.givens_best_l1_rotation(*single) == (decrease, tangent)


_Float = TypeVar("_Float", np.float32, np.float64)


def rotate(x: NDArray[_Float]) -> NDArray[_Float]:
    """The quarter turn of the (1, 2, 2) stack x, in x's dtype, both ways: the bindings
    compiled once per float dtype have one stub signature generic in the dtype, which takes
    either, as the runtime's two overloads do."""
    i, j = np.array([0], np.int64), np.array([1], np.int64)
    cos, sin = np.zeros(1, x.dtype), np.ones(1, x.dtype)
    turned = x.copy()
    _core.givens.apply(i, j, cos, sin, turned, False, 1)
    back = np.empty_like(x)
    no_perm = np.empty(0, np.int64)
    _core.givens.apply_signed(i, j, cos, sin, no_perm, np.empty(0, np.int8), turned, back,
                              transpose=True, threads=1)
    assert np.allclose(back, x)
    return turned


def dtype_generic_calls() -> None:
    single: NDArray[np.float32] = rotate(np.eye(2, dtype=np.float32).reshape(1, 2, 2))
    double: NDArray[np.float64] = rotate(np.eye(2).reshape(1, 2, 2))
    assert single.dtype == np.float32 and np.allclose(single, double)
    jacobi = _core.givens.GivensJacobi32(np.diag([2.0, 1.0]).astype(np.float32))
    matrix: NDArray[np.float32] = jacobi.matrix()
    assert matrix.dtype == np.float32


def area_submodule_calls() -> None:
    """An area's enums and classes are in its submodule, which imports by name."""
    from optkern._core import optimize, ot

    method: ot.SinkhornMethod = ot.SinkhornMethod.__members__["log"]
    assert method.name == "log" and int(method) == int(ot.SinkhornMethod.log)
    settings = optimize.OptimizeSettings()
    settings.method = optimize.OptimizeMethod.bfgs
    settings.lower = None
    assert settings.method == _core.optimize.OptimizeMethod.bfgs

    message: str = _core.optimize.status_message(0)
    start: NDArray[np.float64] = _core.optimize.problem_start(0, 0.0, 4)
    assert message and start.shape == (4,)


def cuda_calls() -> list[str]:
    """Names of the visible devices (none without a driver or a device)."""
    if not _backend.cuda_compiled():  # a build without CUDA: only the stubs of _cuda are there
        return []
    from optkern import _cuda

    names = [d["name"] for d in _cuda.devices()]
    status: str = _cuda.driver_status()
    assert isinstance(status, str) and _cuda.givens.MAX_DIM > 0
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
    dtype_generic_calls()
    area_submodule_calls()
    cuda_calls()
    package_calls()
