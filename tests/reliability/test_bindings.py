"""The compiled module checks what it is handed (python/bindings/common/arrays.hpp): a direct
``optkern._core`` call with an array of the wrong shape, layout or dtype raises ValueError or
TypeError naming the argument, instead of reading or writing outside the array. One entry per
area, and the Sinkhorn backward whose grad_P went unchecked (issue 12)."""

from __future__ import annotations

import copy
import importlib
import pickle

import numpy as np
import pytest

from optkern import _core


def good_and_bad(shape, bad_shape, dtype=np.float64):
    return np.ones(shape, dtype), np.ones(bad_shape, dtype)


def sinkhorn_vjp_args(grad_P):
    B, m, n = 2, 3, 4
    P = np.full((B, m, n), 1.0 / (m * n))
    return (P, grad_P, 1.0, 0, np.empty((B, m, n)), np.empty((B, m)), np.empty((B, n)))


def test_sinkhorn_vjp_checks_grad_p():
    P = np.full((2, 3, 4), 1.0 / 12)
    _core.ot.sinkhorn_vjp(*sinkhorn_vjp_args(np.ones_like(P)))  # the right shape runs
    with pytest.raises(ValueError, match=r"grad_P: expected shape \(2, 3, 4\), got \(1, 2, 2\)"):
        _core.ot.sinkhorn_vjp(*sinkhorn_vjp_args(np.ones((1, 2, 2))))
    with pytest.raises(ValueError, match="grad_P"):
        _core.ot.sinkhorn_vjp(*sinkhorn_vjp_args(np.ones((2, 3))))
    strided = np.ones((2, 3, 8))[:, :, ::2]
    with pytest.raises(TypeError, match="grad_P: expected a C-contiguous array of float64"):
        _core.ot.sinkhorn_vjp(*sinkhorn_vjp_args(strided))
    with pytest.raises(TypeError, match="grad_P"):
        _core.ot.sinkhorn_vjp(*sinkhorn_vjp_args(np.ones((2, 3, 4), np.float32)))


def test_sinkhorn_checks_every_operand():
    B, m, n = 2, 3, 4
    M = np.ones((B, m, n))
    a, b = np.full((B, m), 1 / m), np.full((B, n), 1 / n)
    outputs = (np.empty((B, m, n)), np.empty((B, m)), np.empty((B, n)))
    auto = _core.ot.SinkhornMethod.auto
    _core.ot.sinkhorn(M, a, b, None, 1.0, 1e-9, 10, 1, auto, 0, *outputs)
    with pytest.raises(ValueError, match=r"M: expected shape \(2, 3, 4\)"):
        _core.ot.sinkhorn(np.ones((B, m, n + 1)), a, b, None, 1.0, 1e-9, 10, 1, auto, 0, *outputs)
    with pytest.raises(ValueError, match="g: expected shape"):
        _core.ot.sinkhorn(M, a, b, None, 1.0, 1e-9, 10, 1, auto, 0, *outputs[:2], np.empty((B, 1)))
    with pytest.raises(ValueError, match="plan: must be writeable"):
        plan = np.empty((B, m, n))
        plan.flags.writeable = False
        _core.ot.sinkhorn(M, a, b, None, 1.0, 1e-9, 10, 1, auto, 0, plan, *outputs[1:])


def test_linalg():
    a = np.ones((2, 3, 4))
    b = np.ones((2, 4, 5))
    out = np.empty((2, 3, 5))
    _core.linalg.bmm(a, b, out, [2], [12], [20], [15])
    assert np.allclose(out, 4)
    with pytest.raises(ValueError, match="a: the batch extents and strides reach outside"):
        _core.linalg.bmm(a, b, out, [3], [12], [20], [15])
    with pytest.raises(ValueError, match="b: the batch extents and strides reach outside"):
        _core.linalg.bmm(a, b, out, [2], [12], [21], [15])
    with pytest.raises(TypeError, match="b: expected an array of float64"):
        _core.linalg.bmm(a, b.astype(np.float32), out, [2], [12], [20], [15])
    with pytest.raises(ValueError):
        _core.linalg.bmm_same_batch(a, b, np.empty((3, 3, 5)))
    ones = np.ones((2, 4))
    x = np.empty((2, 4))
    assert _core.linalg.tridiagonal_solve(ones, 3 * ones, ones, ones, x) == (0, -1)
    with pytest.raises(ValueError, match=r"rhs: expected shape \(2, 4\), got \(2, 3\)"):
        _core.linalg.tridiagonal_solve(ones, 3 * ones, ones, np.ones((2, 3)), x)
    with pytest.raises(TypeError, match="diag"):
        _core.linalg.tridiagonal_solve(ones, np.ones((2, 8))[:, ::2], ones, ones, x)


def test_tv():
    x, wrong = good_and_bad((2, 5), (2, 4))
    lam = np.array([0.5])
    y = np.empty((2, 5))
    _core.tv.denoise(x, lam, y)
    with pytest.raises(ValueError, match=r"y: expected shape \(2, 5\), got \(2, 4\)"):
        _core.tv.denoise(x, lam, np.empty((2, 4)))
    with pytest.raises(ValueError, match=r"lam: expected shape \(2,\), got \(3,\)"):
        _core.tv.denoise(x, np.ones(3), y)
    with pytest.raises(TypeError, match="y: expected a C-contiguous array of float64"):
        _core.tv.denoise(x, lam, np.empty((2, 10))[:, ::2])
    with pytest.raises(TypeError, match="lam: expected a C-contiguous array of float64"):
        _core.tv.denoise(x, lam.astype(np.float32), y)
    with pytest.raises(TypeError, match="dtype: expected float32 or float64, got int64"):
        _core.tv.denoise(x.astype(np.int64), lam, y)
    with pytest.raises(ValueError, match="grad_x: expected shape"):
        _core.tv.denoise_vjp(x, x, 0.0, wrong, np.empty(2))


def test_optimize():
    x = np.zeros(4)
    options = _core.optimize.OptimizeSettings()
    options.max_iter = 50
    status, f, g, *_ = _core.optimize.minimize_problem(0, 0.0, x, options, None)
    assert g.shape == (4,)
    with pytest.raises(ValueError, match="x: expected 1 dimensions, got 2"):
        _core.optimize.minimize_problem(0, 0.0, np.zeros((2, 4)), options, None)
    with pytest.raises(TypeError, match="x: expected a C-contiguous array of float32"):
        _core.optimize.minimize_problem(0, 0.0, np.zeros(8, np.float32)[::2], options, None)
    options.lower, options.upper = np.zeros(4), np.ones(3)
    with pytest.raises(ValueError, match=r"upper: expected shape \(4,\), got \(3,\)"):
        _core.optimize.minimize_problem(0, 0.0, np.zeros(4), options, None)
    options.upper = np.ones(4)
    with pytest.raises(ValueError, match=r"lower: expected shape \(3, 4\)"):
        _core.optimize.minimize_problem_batch(0, 0.0, np.zeros((3, 4)), options, 1)
    with pytest.raises(ValueError, match="x: expected 1 dimensions"):
        _core.optimize.problem_hessian(0, 0.0, np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"h: expected shape \(3, 3\), got \(2, 2\)"):
        _core._testing.optimize_modified_newton_step(np.eye(2), np.ones(3), 1e-6, False)
    with pytest.raises(ValueError, match=r"h: expected shape \(5,\)"):
        _core._testing.optimize_modified_newton_step(np.ones(3), np.ones(3), 1e-6, True)


def test_givens():
    u = np.eye(3)
    engine = _core.givens.GivensL1Descent64(u, threads=1)
    i, j = np.empty(3, np.int64), np.empty(3, np.int64)
    theta, score = np.empty(3), np.empty(3)
    engine.run(3, i, j, theta, score, offset=0)
    with pytest.raises(ValueError, match=r"j: expected shape \(3,\), got \(2,\)"):
        engine.run(3, i, np.empty(2, np.int64), theta, score, offset=0)
    with pytest.raises(ValueError, match="max_steps"):
        engine.run(3, i, j, theta, score, offset=1)
    with pytest.raises(TypeError):  # a copy would lose the trajectory: no conversion
        engine.run(3, i, j, np.empty(6)[::2], score, offset=0)
    with pytest.raises(ValueError, match=r"u: expected shape \(3, 3\), got \(3, 2\)"):
        _core.givens.GivensL1Descent64(np.ones((3, 2)), threads=1)
    with pytest.raises(TypeError):
        _core.givens.GivensL1Descent64(np.eye(3, dtype=np.float32), threads=1)
    factors = (np.array([0]), np.array([1]), np.ones(1), np.zeros(1))
    with pytest.raises(ValueError, match=r"sin: expected shape \(1,\), got \(2,\)"):
        _core.givens.apply(*factors[:3], np.zeros(2), np.ones((1, 3, 2)), transpose=False,
                           threads=1)
    with pytest.raises(ValueError, match="x: expected 3 dimensions"):
        _core.givens.apply(*factors, np.ones((3, 2)), transpose=False, threads=1)


def test_enums_and_settings_cross_by_name():
    """C++ enums are py::enum_ values, not integers; the optimizer's settings a class with one
    named field per option (a misspelt option is an error, not a silently ignored key)."""
    assert _core.ot.SinkhornMethod.__members__["log"] == _core.ot.SinkhornMethod.log
    assert [m.name for m in _core.optimize.OptimizeMethod.__members__.values()] == \
        ["lbfgs", "bfgs", "newton", "gd"]
    B, m, n = 1, 2, 2
    args = (np.ones((B, m, n)), np.full((B, m), 0.5), np.full((B, n), 0.5), None, 1.0, 1e-9, 10,
            1)
    outputs = (np.empty((B, m, n)), np.empty((B, m)), np.empty((B, n)))
    with pytest.raises(TypeError):
        _core.ot.sinkhorn(*args, 2, 0, *outputs)
    stats = _core.ot.sinkhorn(*args, _core.ot.SinkhornMethod.log, 0, *outputs)
    assert stats[5][0] == int(_core.ot.SinkhornMethod.log)
    settings = _core.optimize.OptimizeSettings()
    settings.method = _core.optimize.OptimizeMethod.gd
    settings.c1 = 0.25
    assert (settings.method, settings.c1, settings.lower) == \
        (_core.optimize.OptimizeMethod.gd, 0.25, None)
    with pytest.raises(AttributeError):
        settings.gradient_tol = 1e-3  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        settings.method = 1  # type: ignore[assignment]


@pytest.mark.parametrize(("area", "enum"), [("ot", "SinkhornMethod"), ("ot", "PointsCost"),
                                            ("ot", "UnbalancedRegType"),
                                            ("optimize", "OptimizeMethod")])
def test_enums_live_in_their_area_and_pickle(area, enum):
    """Each area's enums are in its submodule _core.<area>, which is importable by that name
    (pickle and copy find an enum's class through its __module__)."""
    submodule = importlib.import_module(f"optkern._core.{area}")
    assert submodule is getattr(_core, area)
    cls = getattr(submodule, enum)
    assert cls.__module__ == f"optkern._core.{area}" and not hasattr(_core, enum)
    for member in cls.__members__.values():
        assert pickle.loads(pickle.dumps(member)) == member
        assert copy.deepcopy(member) == member
        assert repr(member) == f"<{enum}.{member.name}: {int(member)}>"
