"""optkern.jax: custom_vjp functions over pure_callback into optkern's kernels."""

import subprocess
import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax")

import jax.numpy as jnp  # noqa: E402
from jax.test_util import check_grads  # noqa: E402

import optkern  # noqa: E402
import optkern.jax as okj  # noqa: E402

TIGHT = {"tol": 1e-14, "max_iter": 100000}


@pytest.fixture(autouse=True)
def x64():
    """float64 for these tests (JAX's default is float32), restored afterwards."""
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", old)


def weights(rng, size, batch=()):
    w = rng.random(batch + (size,)) + 0.5
    return jnp.asarray(w / w.sum(-1, keepdims=True))


def signals(rng, *shape):
    return jnp.asarray(np.cumsum(rng.standard_normal(shape), axis=-1))


# --- Sinkhorn ---------------------------------------------------------------------------------


def test_plan_is_optkerns_plan(rng):
    M = rng.random((2, 4, 3))
    np.testing.assert_array_equal(np.asarray(okj.sinkhorn(M, reg=0.1)),
                                  optkern.ot.sinkhorn(M, reg=0.1).plan)


def test_float32_stays_float32(rng):
    M = jnp.asarray(rng.random((4, 3)), jnp.float32)
    P = okj.sinkhorn(M, reg=0.1)
    assert P.dtype == jnp.float32
    g = jax.grad(lambda M: okj.sinkhorn(M, reg=0.1)[0, 0])(M)
    assert g.dtype == jnp.float32


def test_check_grads_plan_in_M(rng):
    a, b = weights(rng, 3), weights(rng, 4)
    check_grads(lambda M: okj.sinkhorn(M, a, b, reg=0.3, **TIGHT), (jnp.asarray(
        rng.random((3, 4))),), order=1, modes=["rev"])


def test_check_grads_plan_in_normalised_marginals(rng):
    M = jnp.asarray(rng.random((3, 4)))

    def plan(a, b):
        return okj.sinkhorn(M, a / a.sum(), b / b.sum(), reg=0.3, **TIGHT)

    check_grads(plan, (weights(rng, 3), weights(rng, 4)), order=1, modes=["rev"])


def test_check_grads_plan_in_raw_marginals(rng):
    # Perturbations small enough to keep the masses within sinkhorn's 1e-6: the gradients of
    # the rescaled function (optkern._autodiff) against finite differences.
    M = jnp.asarray(rng.random((3, 4)))
    check_grads(lambda a, b: okj.sinkhorn(M, a, b, reg=0.3, **TIGHT),
                (weights(rng, 3), weights(rng, 4)), order=1, modes=["rev"], eps=1e-8,
                atol=1e-5, rtol=1e-5)


def test_check_grads_batched_broadcast(rng):
    M = jnp.asarray(rng.random((3, 4)))          # shared by the batch
    a = weights(rng, 3, batch=(2,))

    def plan(M, a):
        return okj.sinkhorn(M, a / a.sum(-1, keepdims=True), reg=0.4, **TIGHT)

    check_grads(plan, (M, a), order=1, modes=["rev"])


def test_check_grads_cost(rng):
    M = jnp.asarray(rng.random((2, 3, 4)))
    a, b = weights(rng, 3, batch=(2,)), weights(rng, 4)

    def value(M, a, b):
        return okj.sinkhorn_cost(M, a / a.sum(-1, keepdims=True), b / b.sum(), reg=0.2, **TIGHT)

    check_grads(value, (M, a, b), order=1, modes=["rev"])


def test_jit_and_vmap(rng):
    M = jnp.asarray(rng.random((5, 3, 4)))
    f = jax.jit(lambda M: okj.sinkhorn(M, reg=0.2))
    np.testing.assert_allclose(np.asarray(f(M)), optkern.ot.sinkhorn(np.asarray(M), reg=0.2).plan)
    vm = jax.vmap(lambda M: okj.sinkhorn(M, reg=0.2))(M)
    np.testing.assert_allclose(np.asarray(vm), np.asarray(f(M)))
    loss = jax.jit(jax.grad(lambda M: (okj.sinkhorn(M, reg=0.2) ** 2).sum()))
    per_item = jax.vmap(jax.grad(lambda M: (okj.sinkhorn(M, reg=0.2) ** 2).sum()))(M)
    np.testing.assert_allclose(np.asarray(loss(M)), np.asarray(per_item), atol=1e-12)


def test_gradient_matches_sinkhorn_vjp(rng):
    M = rng.random((4, 5))
    W = rng.standard_normal((4, 5))
    g = jax.grad(lambda M: (okj.sinkhorn(M, reg=0.1) * W).sum())(jnp.asarray(M))
    P = optkern.ot.sinkhorn(M, reg=0.1).plan
    np.testing.assert_allclose(np.asarray(g), optkern.ot.sinkhorn_vjp(P, W, 0.1)[0], atol=1e-12)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"M": jnp.zeros(3)}, "M"),
    ({"M": jnp.zeros((2, 2)), "a": jnp.ones(3)}, "a"),
    ({"M": jnp.zeros((2, 2)), "b": jnp.ones((1,))}, "b"),
    ({"M": jnp.zeros((3, 2, 2)), "a": jnp.ones((2, 2)) / 2}, "a, b"),
])
def test_bad_shapes_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        okj.sinkhorn(reg=0.1, **kwargs)


def test_bad_values_raise_at_run_time():
    with pytest.raises(Exception, match="a: expected weights >= 0"):
        okj.sinkhorn(jnp.zeros((2, 2)), jnp.array([1.5, -0.5]), reg=0.1).block_until_ready()


# --- TV ---------------------------------------------------------------------------------------


def test_tv_matches_optkern(rng):
    x = np.cumsum(rng.standard_normal((3, 40)), axis=-1)
    np.testing.assert_array_equal(np.asarray(okj.tv_denoise(x, 0.6)), optkern.tv.denoise(x, 0.6))


def test_tv_check_grads(rng):
    check_grads(okj.tv_denoise, (signals(rng, 30), 0.8), order=1, modes=["rev"])


def test_tv_check_grads_batched_lam(rng):
    x = signals(rng, 2, 3, 20)
    check_grads(okj.tv_denoise, (x, jnp.asarray(rng.random((2, 3)) + 0.3)), order=1,
                modes=["rev"])
    check_grads(okj.tv_denoise, (x, jnp.asarray(rng.random(3) + 0.3)), order=1,
                modes=["rev"])
    check_grads(okj.tv_denoise, (x, jnp.asarray(rng.random((2, 3, 1)) + 0.3)), order=1,
                modes=["rev"])


def test_tv_jit_vmap_and_lam_gradient(rng):
    x = signals(rng, 4, 25)
    lam = jnp.asarray(rng.random(4) + 0.2)
    f = jax.jit(okj.tv_denoise)
    np.testing.assert_allclose(np.asarray(jax.vmap(okj.tv_denoise)(x, lam)),
                               np.asarray(f(x, lam)))
    w = rng.standard_normal((4, 25))
    gx, glam = jax.jit(jax.grad(lambda x, lam: (okj.tv_denoise(x, lam) * w).sum(),
                                argnums=(0, 1)))(x, lam)
    y = optkern.tv.denoise(np.asarray(x), np.asarray(lam))
    want_x, want_lam = optkern.tv.denoise_vjp(y, w, np.asarray(lam))
    np.testing.assert_allclose(np.asarray(gx), want_x, atol=1e-12)
    np.testing.assert_allclose(np.asarray(glam), want_lam, atol=1e-12)


def test_tv_bad_lam_shape_names_it():
    with pytest.raises(ValueError, match="^lam:"):
        okj.tv_denoise(jnp.ones((2, 3)), jnp.ones(3))


# --- imports ------------------------------------------------------------------------------------


def test_import_without_jax_says_how_to_install():
    code = ("import sys; sys.modules['jax'] = None\n"
            "try:\n    import optkern.jax\n"
            "except ImportError as e:\n    print('ImportError:', e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "ImportError: optkern.jax needs JAX" in out.stdout
    assert "pip install 'optkern[jax]'" in out.stdout
