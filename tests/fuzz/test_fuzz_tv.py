"""Fuzzing optkern.tv (denoise, denoise_vjp, lambda_max) with adversarial input: every call
returns the reference's result or raises a ValueError/TypeError naming the argument."""

import math

import adversarial as adv
import numpy as np
import pytest
from conftest import CONVERGED
from hypothesis import given
from hypothesis import strategies as st
from invariants import assert_converged_implies_finite
from reference import tv as ref

from optkern import tv

pytestmark = pytest.mark.usefixtures("watchdog")


@st.composite
def signal_shapes(draw, max_n=8):
    return tuple(draw(st.lists(adv.dims(0, 3), max_size=2))) + (draw(adv.dims(0, max_n)),)


@st.composite
def lambdas(draw, batch, n=0):
    """lam: a scalar (good or bad), or an array of a fitting or unfitting shape (the unfitting
    one longer than n - 1, so that it is no set of per-edge weights either)."""
    kind = draw(adv.choice(["scalar", "scalar", "array", "keepdims"], ["bad shape"]))
    if kind == "scalar":
        return draw(adv.scalars(st.one_of(st.floats(0, 10), st.sampled_from(
            [0.0, 5e-324, 1e-300, 1e300, 3, np.float32(0.5), np.int64(2)]))))
    if kind == "array":
        shape = draw(st.sampled_from([batch, batch[1:], (1,) * len(batch)]))
    elif kind == "keepdims":
        shape = batch + (1,)
    else:
        shape = (max(batch + (n,), default=0) + 2,)
    return draw(adv.specs(shape, fills=["positive", "zeros", "tiny+", "edges+"],
                          bad_fills=["normal", "nonfinite"]))


def fits(shape, batch):
    try:
        return np.broadcast_shapes(shape, batch) == batch
    except ValueError:
        return False


def lam_error(lam, batch, n=0):
    """The error naming lam that optkern must raise for this lam, or None if lam is valid
    (booleans are not numbers: True and bool arrays are refused; a shape that fits both one
    value per signal and one weight per edge, for signals of n > 2, is refused as ambiguous)."""
    if hasattr(lam, "build"):
        arr = lam.build()
        if lam.rejected_dtype or arr.dtype == bool or adv.has_nonfinite(arr) or (arr < 0).any():
            return "lam"
        shape = arr.shape[:-1] if arr.ndim == len(batch) + 1 and arr.shape[-1:] == (1,) \
            else arr.shape
        if not fits(shape, batch):
            return "lam"
        if n > 2 and arr.ndim >= 1 and arr.shape[-1] == n - 1 and fits(arr.shape[:-1], batch):
            return "lam"
        return None
    if isinstance(lam, (bool, np.bool_)):
        return "lam"
    if isinstance(lam, list):
        return None  # [1.0]: shape (1,) always fits
    return None if adv.finite_number(lam) and float(lam) >= 0 else "lam"


def lam_values(lam, batch):
    """lam as one float64 value per signal (batch shape)."""
    arr = np.asarray(lam.build() if hasattr(lam, "build") else lam, np.float64)
    if arr.ndim == len(batch) + 1 and arr.shape[-1:] == (1,):
        arr = arr[..., 0]
    return np.broadcast_to(arr, batch)


def lam_argument(lam):
    return lam.build() if hasattr(lam, "build") else lam


@given(shape=signal_shapes(), data=st.data(),
       method=adv.choice(["exact", "exact", "irls"], ["taut", None]),
       tol=adv.scalars(st.sampled_from([1e-6, 1e-10, 0.1])),
       max_iter=adv.scalars(st.sampled_from([1, 3, 50, np.int64(10), 7.0])),
       device=adv.DEVICES)
def test_denoise(shape, data, method, tol, max_iter, device):
    xs = data.draw(adv.specs(shape), label="x")
    lam = data.draw(lambdas(shape[:-1], shape[-1]), label="lam")
    x = xs.build()
    outcome = adv.call(tv.denoise, x, lam_argument(lam), method=method, tol=tol,
                       max_iter=max_iter, device=device, return_info=True,
                       arguments=("x", "lam", "method", "tol", "max_iter", "device"))
    if method not in ("exact", "irls"):
        return adv.expect_error(outcome, "method")
    if method == "irls":
        if not (adv.finite_number(tol) and tol > 0):
            return adv.expect_error(outcome, "tol")
        if not (adv.is_number(max_iter) and float(max_iter).is_integer()
                and 1 <= max_iter < 2**63):
            return adv.expect_error(outcome, "max_iter")
    if adv.check_device(outcome, device):
        return
    if xs.rejected_dtype or adv.has_nonfinite(x):
        return adv.expect_error(outcome, "x")
    batch = x.shape[:-1]
    if lam_error(lam, batch, x.shape[-1]):
        return adv.expect_error(outcome, "lam")
    info = adv.expect_ok(outcome)
    dtype = np.float32 if xs.compute_dtype == "float32" else np.float64
    y = info.y
    assert info.converged.shape == x.shape[:-1]
    assert_converged_implies_finite(info.converged, y=y, change=info.change)
    assert y.shape == x.shape and y.dtype == dtype
    assert np.isfinite(y).all(), "NaN or Inf from finite input"
    x64 = np.asarray(x, dtype).astype(np.float64)
    if x.size == 0:
        return
    # the prox of TV keeps every signal within its own range (a maximum principle)
    lo, hi = x64.min(axis=-1, keepdims=True), x64.max(axis=-1, keepdims=True)
    slack = 4 * np.finfo(dtype).eps * np.maximum(np.abs(lo), np.abs(hi))
    with np.errstate(over="ignore"):  # lo - slack is -Inf at -1.8e308: still a bound
        assert np.all((y >= lo - slack) & (y <= hi + slack)), "y leaves the range of x"
    if method == "irls":
        assert np.all((info.nit >= 0) & (info.nit <= max_iter)) and np.isfinite(info.change).all()
        return
    with np.errstate(all="ignore"):
        expected = ref.denoise(x64, lam_values(lam, batch))
    scale = np.abs(x64).max(axis=-1, keepdims=True)
    checked = np.isfinite(expected).all(axis=-1, keepdims=True) & (scale < 1e200)
    tol_y = CONVERGED[dtype] * scale * x.shape[-1]
    assert np.all((np.abs(y - expected) <= tol_y)[np.broadcast_to(checked, y.shape)])


def reference_vjp(y, g, lam, rtol, dtype):
    """Per-signal grad_x and grad_lam from the reference, then summed to lam's shape."""
    batch = y.shape[:-1]
    grad_x = np.empty(y.shape)
    per_signal = np.empty(batch)
    eps_rtol = 8 * np.finfo(dtype).eps if rtol is None else rtol
    for index in np.ndindex(batch) if y.shape[-1] else ():
        row = y[index]
        tol = eps_rtol * np.abs(row).max(initial=0)
        grad_x[index], per_signal[index] = ref.denoise_vjp(row, g[index], 1.0, tol)
    if y.shape[-1] == 0:
        per_signal[...] = 0.0
    lam_arr = np.asarray(lam.build() if hasattr(lam, "build") else lam, np.float64)
    grad_lam = np.zeros(lam_arr.shape)
    keepdims = lam_arr.ndim == len(batch) + 1 and lam_arr.shape[-1:] == (1,)
    core = grad_lam[..., 0] if keepdims else grad_lam
    for index in np.ndindex(batch):
        target = tuple(0 if size == 1 else i
                       for i, size in zip(index[len(index) - core.ndim:], core.shape))
        core[target] += per_signal[index]
    return grad_x, grad_lam


@given(shape=signal_shapes(), data=st.data(), from_denoise=st.booleans(),
       grad_shape=adv.choice(["same"], ["other"]),
       rtol=st.one_of(st.none(), adv.scalars(st.sampled_from([0.0, 1e-6, 1e-3]))),
       device=adv.DEVICES)
def test_denoise_vjp(shape, data, from_denoise, grad_shape, rtol, device):
    ys = data.draw(adv.specs(shape), label="y")
    gs = data.draw(adv.specs(shape if grad_shape == "same" else shape[:-1] + (shape[-1] + 1,)),
                   label="grad_y")
    lam = data.draw(lambdas(shape[:-1], shape[-1]), label="lam")
    y, g = ys.build(), gs.build()
    if from_denoise and ys.dtype == "float64" and not adv.has_nonfinite(y) and y.size:
        y = tv.denoise(y, 0.5)  # realistic: fused segments
    outcome = adv.call(tv.denoise_vjp, y, g, lam_argument(lam), rtol=rtol, device=device,
                       arguments=("y", "grad_y", "lam", "rtol", "device"))
    if rtol is not None and not (adv.finite_number(rtol) and rtol >= 0):
        return adv.expect_error(outcome, "rtol")
    if adv.check_device(outcome, device):
        return
    if ys.rejected_dtype or gs.rejected_dtype or adv.has_nonfinite(y) or adv.has_nonfinite(g):
        return adv.expect_error(outcome, "y", "grad_y")
    if g.shape != y.shape:
        return adv.expect_error(outcome, "grad_y")
    if lam_error(lam, y.shape[:-1], y.shape[-1]):
        return adv.expect_error(outcome, "lam")
    grad_x, grad_lam = adv.expect_ok(outcome)
    dtype = adv.policy_dtype(y, g)
    assert grad_x.shape == y.shape and grad_x.dtype == dtype
    assert not (np.isnan(grad_x).any() or np.isnan(grad_lam).any()), "NaN from finite input"
    if not adv.moderate(g):
        return  # Inf only where the true value is out of range
    assert np.isfinite(grad_x).all() and np.isfinite(grad_lam).all()
    y64 = np.asarray(y, dtype).astype(np.float64)
    g64 = np.asarray(g, dtype).astype(np.float64)
    expected_x, expected_lam = reference_vjp(np.asarray(y, dtype), g64, lam, rtol, dtype)
    del y64
    scale = np.abs(g64).max(initial=0) * (1 + y.shape[-1])
    if scale < 1e200:
        tol = 16 * np.finfo(dtype).eps * scale + 1e-300
        assert np.abs(grad_x - expected_x).max(initial=0) <= tol
        assert np.shape(grad_lam) == expected_lam.shape
        assert np.abs(grad_lam - expected_lam).max(initial=0) <= tol * max(1, y.size)


@given(shape=st.one_of(st.just(()), signal_shapes(max_n=12)), data=st.data())
def test_lambda_max(shape, data):
    xs = data.draw(adv.specs(shape), label="x")
    x = xs.build()
    outcome = adv.call(tv.lambda_max, x, arguments=("x",))
    if xs.rejected_dtype or x.ndim == 0 or adv.has_nonfinite(x):
        return adv.expect_error(outcome, "x")
    value = adv.expect_ok(outcome)
    assert np.shape(value) == x.shape[:-1] and not np.isnan(value).any()
    if not adv.moderate(x):
        return
    assert np.isfinite(value).all(), "NaN or Inf from finite input"
    x64 = np.asarray(x, np.float64)
    with np.errstate(all="ignore"):
        expected = ref.lambda_max(x64) if x.shape[-1] else np.zeros(x.shape[:-1])
    scale = np.abs(x64).sum(axis=-1) if x.shape[-1] else np.zeros(x.shape[:-1])
    checked = np.isfinite(expected) & (scale < 1e300)
    assert np.all((np.abs(value - expected) <= 1e-13 * scale + 1e-300)[checked])
    # lambda_max is the smallest lam for which denoise returns the mean
    if x.shape[-1] and x64.size and math.isfinite(scale.max(initial=0)) and x.ndim == 1:
        y = tv.denoise(x64, float(value))
        np.testing.assert_allclose(y, np.full_like(y, y.mean()), rtol=0,
                                   atol=1e-9 * np.abs(x64).max() + 1e-300)


@pytest.mark.parametrize("function", ["denoise", "denoise_vjp", "lambda_max"])
def test_absurd_batch_raises_memory_error(function):
    x = np.broadcast_to(np.ones(4), (2**40, 4))
    with pytest.raises(MemoryError):
        if function == "denoise":
            tv.denoise(x, 0.1)
        elif function == "denoise_vjp":
            tv.denoise_vjp(x, x, 0.1)
        else:
            tv.lambda_max(x)


def test_huge_batch_of_tiny_signals(rng):
    x = rng.standard_normal((200_000, 1))
    np.testing.assert_array_equal(tv.denoise(x, 0.5), x)  # one sample: nothing to fuse
    x = rng.standard_normal((100_000, 2))
    y = tv.denoise(x, 0.3)
    np.testing.assert_allclose(y[:100], ref.denoise(x[:100], 0.3), rtol=1e-13, atol=1e-15)
    # two samples: move each towards the other by lam, or meet at the mean
    gap = x[:, 0] - x[:, 1]
    step = np.minimum(0.3, np.abs(gap) / 2) * np.sign(gap)
    np.testing.assert_allclose(y, np.stack([x[:, 0] - step, x[:, 1] + step], axis=1),
                               rtol=1e-13, atol=1e-15)
    grad_x, grad_lam = tv.denoise_vjp(y, np.ones_like(y), 0.3)
    np.testing.assert_allclose(grad_x, 1.0, rtol=1e-15)
    np.testing.assert_allclose(tv.lambda_max(x), np.abs(gap) / 2, rtol=1e-14, atol=1e-15)
