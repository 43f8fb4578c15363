"""optkern.optimize.minimize_batch: every problem of a batch ends exactly as its own
minimize() run would (own history, line search and stopping state), threaded native batches
and Python objectives in lock step alike."""

import numpy as np
import pytest

import optkern
from optkern.optimize import BatchResult, minimize, minimize_batch, problems


def assert_same_as_single_runs(batch, objective_of_row, x0, **kwargs):
    for b in range(x0.shape[0]):
        single = minimize(objective_of_row(b), x0[b], **kwargs)
        np.testing.assert_array_equal(batch.x[b], single.x)
        np.testing.assert_array_equal(batch.jac[b], single.jac)
        assert batch.fun[b] == single.fun
        assert (batch.nit[b], batch.nfev[b], batch.nhev[b], batch.status[b]) == (
            single.nit, single.nfev, single.nhev, single.status)
        assert batch.message[b] == single.message and batch.success[b] == single.success


@pytest.mark.parametrize("method", ["lbfgs", "bfgs", "newton", "gd"])
def test_native_batch_equals_independent_runs(method, rng, dtype):
    p = problems.rosenbrock(6)
    x0 = (p.x0 + rng.standard_normal((9, 6))).astype(dtype)
    kwargs = dict(method=method, max_iter=300)
    res = minimize_batch(p, x0, **kwargs)
    assert res.x.dtype == dtype and res.x.shape == x0.shape
    assert_same_as_single_runs(res, lambda b: p, x0, **kwargs)
    one_thread = minimize_batch(p, x0, num_threads=1, **kwargs)
    np.testing.assert_array_equal(one_thread.x, res.x)
    np.testing.assert_array_equal(one_thread.nfev, res.nfev)


class ScaledQuadratics:
    """B different problems: f_b(x) = sum_i a_bi (x_i - c_b)^2 / 2, evaluated for all rows
    at once, so the rows must reach the right problem."""

    def __init__(self, rng, batch, n):
        self.a = 10.0 ** rng.uniform(0, 3, size=(batch, n))
        self.c = rng.standard_normal((batch, 1))
        self.calls = []

    def __call__(self, x):
        self.calls.append(x)
        return self.evaluate(x, slice(None))

    def evaluate(self, x, rows):
        d = x - self.c[rows]
        return 0.5 * np.sum(self.a[rows] * d * d, axis=1), self.a[rows] * d

    def row(self, b):
        """Problem b alone, computed exactly as in the batch."""
        def fun(x):
            f, g = self.evaluate(x[None, :], slice(b, b + 1))
            return f[0], g[0]
        return fun


@pytest.mark.parametrize("method", ["lbfgs", "bfgs", "gd"])
def test_python_batch_equals_independent_runs(method, rng):
    fun = ScaledQuadratics(rng, 7, 5)
    x0 = rng.standard_normal((7, 5))
    kwargs = dict(method=method, max_iter=2000, max_fev=5000, alpha0=1e-3)
    res = minimize_batch(fun, x0, **kwargs)
    assert_same_as_single_runs(res, fun.row, x0, **kwargs)
    # one call per round, each with its own (B, n) copy of the trial points
    assert len(fun.calls) == res.nfev.max()
    assert all(x.shape == (7, 5) and x.flags.writeable and x.flags.owndata for x in fun.calls)
    assert len({id(x) for x in fun.calls}) == len(fun.calls)


def test_each_problem_keeps_its_own_state(rng):
    """Easy and hard problems side by side: each stops on its own, after as many
    iterations as alone; finished rows hold their final x."""
    p = problems.rosenbrock(8)
    x0 = np.vstack([np.ones(8) + 1e-3 * rng.standard_normal(8), p.x0, 3 * p.x0, np.ones(8)])
    seen = []

    def fun(x):
        seen.append(x.copy())
        return p(x)

    res = minimize_batch(fun, x0)
    singles = [minimize(p, x) for x in x0]
    assert [r.nit for r in singles] == res.nit.tolist()
    assert len(set(res.nit.tolist())) == 4  # different lengths: no shared state
    assert res.success.all()
    easiest = int(np.argmin(res.nfev))
    for x in seen[res.nfev[easiest]:]:
        np.testing.assert_array_equal(x[easiest], res.x[easiest])


def test_batch_solves_random_starts_that_share_nothing(rng):
    p = problems.extended_rosenbrock(8)
    res = minimize_batch(p, rng.standard_normal((500, 8)) * 2, gtol=1e-9, ftol=0.0)
    assert res.success.all()
    np.testing.assert_allclose(res.x, 1, atol=1e-6)


def test_batch_result_api():
    p = problems.quadratic(3, cond=10)
    res = minimize_batch(p, np.ones((4, 3)))
    assert isinstance(res, BatchResult) and len(res) == 4
    one = res[2]
    assert one.nit == res.nit[2] and np.array_equal(one.x, res.x[2])
    assert [r.nfev for r in res] == res.nfev.tolist()
    assert res["nfev"] is res.nfev
    assert res.njev.tolist() == res.nfev.tolist()
    with pytest.raises(IndexError):
        res[4]
    assert "4 problems" in repr(res)


def test_empty_batch():
    res = minimize_batch(problems.rosenbrock(3), np.zeros((0, 3)))
    assert len(res) == 0 and res.x.shape == (0, 3)
    res = minimize_batch(lambda x: (x.sum(1), np.ones_like(x)), np.zeros((0, 3)))
    assert len(res) == 0


@pytest.mark.parametrize(("args", "kwargs", "match"), [
    ((problems.rosenbrock(3), np.ones(3)), {}, "^x0:"),
    ((problems.rosenbrock(3), np.ones((2, 4))), {}, "^x0:"),
    ((problems.rosenbrock(3), np.full((2, 3), np.nan)), {}, "^x0:"),
    ((problems.rosenbrock(3), np.ones((2, 0))), {}, "^x0:"),
    (("nope", np.ones((2, 3))), {}, "^fun:"),
    ((lambda x: (x.sum(1), x), np.ones((2, 3))), dict(method="newton"), "^method:"),
    ((problems.rosenbrock(3), np.ones((2, 3))), dict(m=0), "^m:"),
    ((problems.rosenbrock(3), np.ones((2, 3))), dict(c1=0.95), "^c1:"),
    ((problems.rosenbrock(3), np.ones((2, 3))), dict(gtol=-1), "^gtol:"),
    ((problems.rosenbrock(3), np.ones((2, 3))), dict(num_threads=0), "^num_threads:"),
    ((problems.rosenbrock(3), np.ones((2, 3))), dict(device="tpu"), "^device:"),
])
def test_batch_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        minimize_batch(*args, **kwargs)


@pytest.mark.parametrize(("returned", "match"), [
    (lambda x: (x.sum(1)[:-1], 2 * x), "^fun: expected values F of shape \\(2,\\)"),
    (lambda x: (x.sum(1), 2 * x[:, :-1]), "^fun: expected gradients G of shape \\(2, 3\\)"),
    (lambda x: x.sum(1), "^fun:"),
])
def test_batch_bad_objective_values(returned, match):
    with pytest.raises(ValueError, match=match):
        minimize_batch(returned, np.ones((2, 3)))


def test_cuda_device_needs_cuda():
    if optkern.cuda_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="^device:"):
        minimize_batch(problems.rosenbrock(3), np.ones((2, 3)), device="cuda")
