"""Thesis section 1.1.5 (Figure 2): gradient descent, modified Newton, BFGS and L-BFGS all reach
the all-ones minimiser of the averaged Rosenbrock function (eq. 15), n = 1000, from an N(0, 1)
start, with the thesis' settings. The four native runs share the two cores."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from optkern.optimize import minimize, problems

N = 1000
SETTINGS = {
    "gd": dict(method="gd", alpha0=0.1, c1=1e-4, tau=0.5),  # Algorithm 1, alpha = 0.1
    "newton": dict(method="newton", eig_floor=1e-6),          # eigenvalues cut at 1e-6
    "bfgs": dict(method="bfgs", hess=True, eig_floor=1e-3),   # Wolfe; floored Hessian start
    "lbfgs": dict(method="lbfgs", m=10),                      # Wolfe; H0 of eq. 16
}


@pytest.fixture(scope="module")
def runs():
    p = problems.rosenbrock_averaged(N)
    x0 = np.random.default_rng(2022).standard_normal(N)

    def run(name):
        return name, minimize(p, x0, gtol=1e-8, ftol=0.0, max_iter=5_000_000,
                              max_fev=10_000_000, **SETTINGS[name])

    with ThreadPoolExecutor(max_workers=2) as pool:  # the slowest two run side by side
        return dict(pool.map(run, ["gd", "bfgs", "newton", "lbfgs"]))


@pytest.mark.parametrize("method", list(SETTINGS))
def test_reaches_the_all_ones_minimiser(runs, method):
    res = runs[method]
    assert res.success, res.message
    assert np.abs(res.x - 1).max() < 1e-4
    assert res.fun < 1e-12


def test_the_methods_compare_as_in_figure_2(runs):
    """Newton needs the fewest iterations, then the quasi-Newton methods; gradient descent
    needs by far the most. L-BFGS evaluates no Hessian, Newton one per iteration."""
    nit = {name: res.nit for name, res in runs.items()}
    assert nit["newton"] < nit["bfgs"] < 20 * nit["bfgs"] < nit["gd"]
    assert nit["newton"] < nit["lbfgs"] < 20 * nit["lbfgs"] < nit["gd"]
    assert runs["lbfgs"].nhev == 0 and runs["bfgs"].nhev == 1
    assert runs["newton"].nhev in (runs["newton"].nit, runs["newton"].nit + 1)
