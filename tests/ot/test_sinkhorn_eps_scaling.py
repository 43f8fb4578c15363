"""optkern.ot.sinkhorn(..., eps_scaling=factor): the same plan as a cold start, far fewer
iterations at small reg, and its argument checks."""

import numpy as np
import pytest
from reference.sinkhorn import point_cloud_cost

from optkern.ot import sinkhorn


@pytest.mark.parametrize("factor", [0.5, 0.8])
def test_small_reg_converges_in_fewer_iterations(factor):
    M = point_cloud_cost(30, 20)
    reg = 1e-3 * np.abs(M).max()
    cold = sinkhorn(M, reg=reg, method="log", tol=1e-6, max_iter=100000)
    warm = sinkhorn(M, reg=reg, method="log", tol=1e-6, max_iter=100000, eps_scaling=factor)
    assert warm.converged and cold.converged
    assert warm.n_iter < cold.n_iter
    # both within tol of the marginals: their plans agree to a few times tol
    np.testing.assert_allclose(warm.plan, cold.plan, atol=3e-5)


def test_same_solution_as_a_cold_start(rng):
    M = rng.random((2, 12, 9))
    cold = sinkhorn(M, reg=0.01, tol=1e-12, max_iter=10**6)
    warm = sinkhorn(M, reg=0.01, tol=1e-12, max_iter=10**6, eps_scaling=0.5)
    assert warm.converged.all() and warm.n_iter.shape == (2,)
    np.testing.assert_allclose(warm.plan, cold.plan, atol=1e-12)
    np.testing.assert_allclose(warm.value, cold.value, rtol=1e-10)


def test_max_iter_bounds_every_stage():
    M = point_cloud_cost(20, 20)
    res = sinkhorn(M, reg=1e-4 * M.max(), max_iter=7, eps_scaling=0.5)
    assert res.n_iter <= 7 and not res.converged
    assert np.isfinite(res.plan).all()


def test_float32_and_large_reg(rng):
    M = rng.random((6, 5)).astype(np.float32)
    res = sinkhorn(M, reg=2.0, eps_scaling=0.5)  # reg above max|M|: one stage
    assert res.plan.dtype == np.float32 and res.converged
    np.testing.assert_allclose(res.plan, sinkhorn(M, reg=2.0).plan, atol=1e-7)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.5, 1.5, float("nan"), "half"])
def test_bad_factor(rng, bad):
    with pytest.raises(ValueError, match="^eps_scaling:"):
        sinkhorn(rng.random((3, 3)), reg=0.1, eps_scaling=bad)


def test_not_with_a_callback(rng):
    with pytest.raises(ValueError, match="^eps_scaling:"):
        sinkhorn(rng.random((3, 3)), reg=0.1, eps_scaling=0.5, callback=lambda r: None)
