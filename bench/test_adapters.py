"""The autograd adapters and the progress machinery: what they cost on top of the kernels.

* ``sinkhorn fwd+bwd``: a loss through the Sinkhorn plan and its gradient in M, by
  optkern.torch and optkern.jax (jit) against the same two kernel calls from NumPy
  (optkern.ot.sinkhorn + sinkhorn_vjp, the baseline: the adapters should add only a constant),
  and against unrolled automatic differentiation in torch and POT's torch backend, run for the
  iterations optkern needed to reach tol.
* ``tv fwd+bwd``: the same for a batch of TV denoising problems (optkern.tv.denoise +
  denoise_vjp).
* ``progress``: minimize_batch and sinkhorn with a callback (chunked runs) against one call.

Every case checks its gradient (or result) against the NumPy baseline before it is timed.

    python -m pytest bench/test_adapters.py --benchmark-only
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from sinkhorn_peers import point_cloud_cost, torch_unrolled_grad

import optkern

REG = 0.05
SINKHORN_SIZES = [100, 400, 1000]
TV_SHAPES = [(1000, 100), (20, 10000)]


def _import(name):
    try:
        return __import__(name)
    except ImportError:
        pytest.skip(f"{name} is not installed")


def torch_grad(forward, x, w):
    """A callable returning dL/dx (as NumPy) for L = <w, forward(x)> by torch's autograd."""
    torch = _import("torch")
    wt = torch.from_numpy(w)

    def run():
        xt = torch.from_numpy(x).requires_grad_()
        (forward(xt) * wt).sum().backward()
        return xt.grad.numpy()
    return run


def jax_grad(forward, x, w):
    """The same by jax.grad, jitted, in float64."""
    jax = _import("jax")
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    wj, xj = jnp.asarray(w), jnp.asarray(x)
    grad = jax.jit(jax.grad(lambda x: (forward(x) * wj).sum()))
    return lambda: np.asarray(grad(xj))


@functools.lru_cache(maxsize=4)
def sinkhorn_case(n):
    M = point_cloud_cost(n, n)
    W = np.random.default_rng(n).standard_normal((n, n))
    res = optkern.ot.sinkhorn(M, reg=REG)
    grad = optkern.ot.sinkhorn_vjp(res.plan, W, REG)[0]
    return M, W, grad, int(res.n_iter)


def sinkhorn_impl(impl, M, W, n_iter):
    """A callable returning dL/dM (as NumPy) for L = <W, P(M)>."""
    if impl == "optkern-numpy":
        def run():
            P = optkern.ot.sinkhorn(M, reg=REG).plan
            return optkern.ot.sinkhorn_vjp(P, W, REG)[0]
        return run
    if impl == "optkern.torch":
        _import("torch")
        import optkern.torch as okt

        return torch_grad(lambda Mt: okt.sinkhorn(Mt, reg=REG), M, W)
    if impl == "optkern.jax":
        _import("jax")
        import optkern.jax as okj

        return jax_grad(lambda Mj: okj.sinkhorn(Mj, reg=REG), M, W)
    if impl == "torch-unrolled":
        _import("torch")
        return lambda: torch_unrolled_grad(M, REG, n_iter, W, domain="kernel")
    if impl == "pot-torch-unrolled":
        torch, ot = _import("torch"), _import("ot")
        n = M.shape[0]
        a = torch.full((n,), 1.0 / n, dtype=torch.float64)
        return torch_grad(lambda Mt: ot.sinkhorn(a, a, Mt, REG, numItermax=n_iter, stopThr=0.0),
                          M, W)
    raise ValueError(impl)


@pytest.mark.parametrize("impl", ["optkern-numpy", "optkern.torch", "optkern.jax",
                                  "torch-unrolled", "pot-torch-unrolled"])
@pytest.mark.parametrize("n", SINKHORN_SIZES)
def test_sinkhorn_forward_backward(benchmark, report, n, impl):
    M, W, expected, n_iter = sinkhorn_case(n)
    run = sinkhorn_impl(impl, M, W, n_iter)
    got = run()
    scale = np.abs(expected).max()
    tol = 1e-8 if impl.startswith("optkern") else 1e-4  # unrolled: the gradient of the iterate
    assert np.abs(got - expected).max() <= tol * scale, "gradient differs from sinkhorn_vjp"
    benchmark.group = f"sinkhorn fwd+bwd n={n} float64 reg={REG} ({n_iter} it)"
    benchmark.pedantic(run, rounds=5, warmup_rounds=1, iterations=1)
    report(benchmark.group, impl, 1.0, "grads/s", baseline="optkern-numpy")


@functools.lru_cache(maxsize=2)
def tv_case(batch, n):
    rng = np.random.default_rng(n)
    x = np.cumsum(rng.standard_normal((batch, n)), axis=-1)
    w = rng.standard_normal((batch, n))
    y = optkern.tv.denoise(x, 2.0)
    return x, w, optkern.tv.denoise_vjp(y, w, 2.0)[0]


def tv_impl(impl, x, w):
    if impl == "optkern-numpy":
        def run():
            y = optkern.tv.denoise(x, 2.0)
            return optkern.tv.denoise_vjp(y, w, 2.0)[0]
        return run
    if impl == "optkern.torch":
        _import("torch")
        import optkern.torch as okt

        return torch_grad(lambda xt: okt.tv_denoise(xt, 2.0), x, w)
    if impl == "optkern.jax":
        _import("jax")
        import optkern.jax as okj

        return jax_grad(lambda xj: okj.tv_denoise(xj, 2.0), x, w)
    raise ValueError(impl)


@pytest.mark.parametrize("impl", ["optkern-numpy", "optkern.torch", "optkern.jax"])
@pytest.mark.parametrize(("batch", "n"), TV_SHAPES, ids=[f"B{b}-n{n}" for b, n in TV_SHAPES])
def test_tv_forward_backward(benchmark, report, batch, n, impl):
    x, w, expected = tv_case(batch, n)
    run = tv_impl(impl, x, w)
    np.testing.assert_allclose(run(), expected, atol=1e-12)
    benchmark.group = f"tv fwd+bwd B={batch} n={n} float64"
    benchmark.pedantic(run, rounds=10, warmup_rounds=1, iterations=1)
    report(benchmark.group, impl, batch * n / 1e6, "Msample/s", baseline="optkern-numpy")


@pytest.mark.parametrize("impl", ["one call", "progress"])
def test_minimize_batch_progress(benchmark, report, impl, capsys):
    from optkern.optimize import minimize_batch, problems

    X0 = np.random.default_rng(0).standard_normal((20000, 8))
    p = problems.rosenbrock(8)
    expected = minimize_batch(p, X0).x
    run = functools.partial(minimize_batch, p, X0, progress=impl == "progress")
    np.testing.assert_array_equal(run().x, expected)
    benchmark.group = "minimize_batch rosenbrock(8) B=20000 float64"
    benchmark.pedantic(run, rounds=5, warmup_rounds=1, iterations=1)
    capsys.readouterr()  # the bars
    report(benchmark.group, impl, 20000 / 1e3, "kproblem/s", baseline="one call")


@pytest.mark.parametrize("impl", ["one call", "callback"])
@pytest.mark.parametrize("n", [200, 1000])
def test_sinkhorn_callback(benchmark, report, n, impl):
    M = point_cloud_cost(n, n)
    kw = {"reg": 0.005, "tol": 1e-9}
    expected = optkern.ot.sinkhorn(M, **kw)
    calls = []
    run = functools.partial(optkern.ot.sinkhorn, M, **kw,
                            callback=calls.append if impl == "callback" else None)
    res = run()
    np.testing.assert_allclose(res.plan, expected.plan, rtol=1e-6, atol=1e-12)
    benchmark.group = f"sinkhorn to tol n={n} reg=0.005 ({expected.n_iter} it, {expected.method})"
    benchmark.pedantic(run, rounds=3, warmup_rounds=0, iterations=1)
    report(benchmark.group, impl, 1.0, "solves/s", baseline="one call",
           note=f"{len(calls) // 4} chunks" if calls else "")
