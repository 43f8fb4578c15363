"""The adapters' shared paths: optkern.jax.sinkhorn_divergence runs on the same plan and
value functions as optkern.jax.sinkhorn (with a warm start), so both of its losses have a
gradient, and it agrees with optkern.torch's."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")

import jax.numpy as jnp  # noqa: E402
from test_jax_adapter import x64  # noqa: E402, F401  (the float64 fixture)

import optkern.jax  # noqa: E402
import optkern.torch  # noqa: E402


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("loss", ["entropic", "linear"])
def test_jax_divergence_gradient_matches_torch_and_differences(loss):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(5, 2)) + 0.5
    kw = dict(reg=0.5, loss=loss, tol=1e-13)
    value, gx = jax.value_and_grad(
        lambda x: optkern.jax.sinkhorn_divergence(x, jnp.asarray(y), **kw))(jnp.asarray(x))
    gx = np.asarray(gx)
    h = 1e-6
    dx = np.zeros_like(x)
    dx[2, 1] = h
    up = float(optkern.jax.sinkhorn_divergence(jnp.asarray(x + dx), jnp.asarray(y), **kw))
    down = float(optkern.jax.sinkhorn_divergence(jnp.asarray(x - dx), jnp.asarray(y), **kw))
    assert abs((up - down) / (2 * h) - gx[2, 1]) < 1e-6
    xt = torch.tensor(x, requires_grad=True)
    st = optkern.torch.sinkhorn_divergence(xt, torch.tensor(y), **kw)
    st.backward()
    assert float(value) == pytest.approx(st.item(), rel=1e-10)
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-7, atol=1e-10)
