"""Fuzzing optkern.tv.denoise_2d and denoise_2d_vjp with adversarial input: every call returns
finite images of the right shape and dtype that keep each image's mean and do not raise its
total variation, or raises a ValueError/TypeError naming the argument."""

import adversarial as adv
import numpy as np
import pytest
from conftest import CONVERGED
from hypothesis import given
from hypothesis import strategies as st
from invariants import assert_converged_implies_finite

from optkern import tv

pytestmark = pytest.mark.usefixtures("watchdog")

image_shapes = st.tuples(st.lists(adv.dims(0, 2), max_size=1).map(tuple), adv.dims(0, 5),
                         adv.dims(0, 5)) \
    .map(lambda s: s[0] + (s[1], s[2]))
lams = adv.scalars(st.sampled_from([0.0, 0.05, 0.5, 3.0, np.float32(0.2)]),
                   bad_values=(float("nan"), float("inf"), -1.0, True, "0.1", 10**400))
flags = adv.choice([False, True, np.True_, np.False_], ["yes", 1, None])
tols = adv.scalars(st.sampled_from([1e-4, 1e-7]), bad_values=(-1.0, float("nan"), True))
iterations = adv.scalars(st.sampled_from([1, 30, 300]), bad_values=(0, -1, 2.5, True))


def total_variation(y, isotropic):
    dr = np.diff(y, axis=-1)[..., :-1, :] if isotropic else np.diff(y, axis=-1)
    dc = np.diff(y, axis=-2)[..., :, :-1] if isotropic else np.diff(y, axis=-2)
    if isotropic:
        inner = np.sqrt(dr**2 + dc**2).sum(axis=(-1, -2))
        edges = np.abs(np.diff(y, axis=-1)[..., -1, :]).sum(-1) + \
            np.abs(np.diff(y, axis=-2)[..., :, -1]).sum(-1)
        return inner + edges
    return np.abs(dr).sum(axis=(-1, -2)) + np.abs(dc).sum(axis=(-1, -2))


@given(shape=image_shapes, data=st.data(), lam=lams, isotropic=flags, tol=tols,
       max_iter=iterations, info=flags)
def test_denoise_2d(shape, data, lam, isotropic, tol, max_iter, info):
    spec = data.draw(adv.specs(shape, fills=["normal", "positive", "zeros", "tiny"]))
    img = spec.build()
    outcome = adv.call(tv.denoise_2d, img, lam, isotropic=isotropic, tol=tol, max_iter=max_iter,
                       return_info=info,
                       arguments=("img", "lam", "isotropic", "tol", "max_iter", "return_info"))
    bad = [name for name, value, ok in (
        ("img", img, not (spec.rejected_dtype or adv.has_nonfinite(img))),
        ("lam", lam, isinstance(lam, (float, np.floating)) and np.isfinite(lam) and lam >= 0),
        ("isotropic", isotropic, isinstance(isotropic, (bool, np.bool_))),
        ("tol", tol, isinstance(tol, float) and tol >= 0),
        ("max_iter", max_iter, isinstance(max_iter, int) and not isinstance(max_iter, bool)
         and max_iter >= 1),
        ("return_info", info, isinstance(info, (bool, np.bool_)))) if not ok]
    if bad:
        return adv.expect_error(outcome, *bad)
    result = adv.expect_ok(outcome)
    y = result.y if info else result
    x = np.asarray(img, dtype=np.float64)
    assert y.shape == img.shape and y.dtype == np.dtype(spec.compute_dtype)
    assert np.isfinite(y).all()
    if info:
        assert_converged_implies_finite(result.converged, y=y, gap=result.gap)
    if y.size == 0:
        return
    yd = y.astype(np.float64)
    scale = max(1.0, float(np.abs(x).max()))
    rounding = 10 * CONVERGED[y.dtype]  # an iterative solver, summed over an image
    # The prox of a TV keeps each image's mean and never raises its total variation.
    np.testing.assert_allclose(yd.mean(axis=(-1, -2)), x.mean(axis=(-1, -2)),
                               atol=rounding * scale)
    assert (total_variation(yd, bool(isotropic))
            <= total_variation(x, bool(isotropic)) * (1 + rounding) + rounding * scale).all()


@given(shape=image_shapes, data=st.data(), lam=lams)
def test_denoise_2d_vjp(shape, data, lam):
    spec = data.draw(adv.specs(shape, fills=["normal", "zeros"]))
    img = spec.build()
    grad = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).standard_normal(shape)
    outcome = adv.call(tv.denoise_2d_vjp, img, grad, lam, arguments=("y", "grad_y", "lam"))
    bad = ["y"] if spec.rejected_dtype or adv.has_nonfinite(img) else []
    if not (isinstance(lam, (float, np.floating)) and np.isfinite(lam) and lam >= 0):
        bad.append("lam")
    if bad:
        return adv.expect_error(outcome, *bad)
    grad_x, grad_lam = adv.expect_ok(outcome)
    assert grad_x.shape == img.shape and np.isfinite(grad_x).all()
    assert np.isfinite(grad_lam).all()
    # The Jacobian averages over flat regions: it keeps each image's sum of gradients.
    np.testing.assert_allclose(np.asarray(grad_x, np.float64).sum(axis=(-1, -2)),
                               grad.sum(axis=(-1, -2)), atol=1e-6 * max(1.0, np.abs(grad).sum()))
