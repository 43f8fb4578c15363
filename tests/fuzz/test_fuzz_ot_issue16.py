"""Fuzzing issue 16's OT functions (sinkhorn2, sinkhorn_divergence, sinkhorn_unbalanced and its
vjp, sinkhorn_points, eps_scaling) with adversarial input: every call either returns finite
results or raises a ValueError whose message starts with an argument's name."""

import re

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optkern import ot

NAMES = r"^(M|a|b|x|y|reg|reg_m|reg_type|cost|loss|tol|max_iter|method|init|eps_scaling|P|"
NAMES += r"grad_P|a, b|x, y|x, y, a, b|M, reg|u|v):"  # M, reg: a result beyond the range
FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

values = st.sampled_from(["normal", "positive", "zeros", "tiny", "huge", "nan", "inf", "neg"])


def fill(rng, kind, shape):
    x = rng.random(shape)
    if kind == "normal":
        return rng.standard_normal(shape)
    if kind == "zeros":
        return np.zeros(shape)
    if kind == "tiny":
        return x * 1e-300
    if kind == "huge":
        return x * 1e300
    if kind == "neg":
        return -x - 0.1
    if kind in ("nan", "inf") and x.size:
        x.flat[rng.integers(x.size)] = np.nan if kind == "nan" else np.inf
    return x + 0.1


def check(call):
    try:
        out = call()
    except ValueError as err:
        assert re.match(NAMES, str(err)), str(err)
        return None
    leaves = out if isinstance(out, tuple) else (out,)
    for leaf in leaves:
        for v in (leaf if isinstance(leaf, tuple) else (leaf,)):
            if isinstance(v, (np.ndarray, float)):
                assert np.all(np.isfinite(v)), "non-finite result"
    return out


sizes = st.integers(0, 4)
regs = st.sampled_from([1.0, 0.1, 1e-3, 1e-300, 0.0, -1.0, float("nan"), 1e300])
dtypes = st.sampled_from([np.float64, np.float32])


@FUZZ
@given(st.integers(0, 2**32 - 1), sizes, sizes, values, values, values, regs, dtypes)
def test_sinkhorn2(seed, m, n, kM, ka, kb, reg, dtype):
    rng = np.random.default_rng(seed)
    with np.errstate(all="ignore"):  # the inputs themselves may overflow: that is the test
        M = fill(rng, kM, (m, n)).astype(dtype)
        a = None if ka == "normal" else fill(rng, ka, m)
        b = None if kb == "normal" or a is None else a.sum() * fill(rng, kb, n) / max(
            abs(fill(rng, kb, n).sum()), 1e-300)
    check(lambda: ot.sinkhorn2(M, a, b, reg=reg, max_iter=200, tol=1e-6))


@FUZZ
@given(st.integers(0, 2**32 - 1), sizes, sizes, st.integers(0, 3), values, values, regs,
       st.sampled_from(["sqeuclidean", "euclidean", "bad"]),
       st.sampled_from(["entropic", "linear", "bad"]))
def test_divergence(seed, m, n, d, kx, ky, reg, cost, loss):
    rng = np.random.default_rng(seed)
    x, y = fill(rng, kx, (m, d)), fill(rng, ky, (n, d))
    out = check(lambda: ot.sinkhorn_divergence(x, y, reg=reg, cost=cost, loss=loss,
                                               max_iter=200, tol=1e-6))
    if out is not None:
        assert out >= 0


@FUZZ
@given(st.integers(0, 2**32 - 1), sizes, sizes, values, values, values, regs,
       st.sampled_from([1.0, 0.01, (1.0, float("inf")), float("inf"), 0.0, -1.0, (1, 2, 3),
                        float("nan")]),
       st.sampled_from(["kl", "entropy", "bad"]), dtypes)
def test_unbalanced_and_vjp(seed, m, n, kM, ka, kb, reg, reg_m, reg_type, dtype):
    rng = np.random.default_rng(seed)
    with np.errstate(over="ignore"):  # a float32 cast of huge inputs: that is the test
        M = fill(rng, kM, (m, n)).astype(dtype)
    a, b = fill(rng, ka, m), fill(rng, kb, n)
    res = check(lambda: ot.sinkhorn_unbalanced(M, a, b, reg=reg, reg_m=reg_m,
                                               reg_type=reg_type, max_iter=200))
    if res is not None:
        assert np.isfinite(res.plan).all() and np.isfinite(res.f).all()
        assert np.isfinite(res.value)
        W = rng.standard_normal(res.plan.shape)
        try:
            check(lambda: ot.sinkhorn_unbalanced_vjp(res.plan, W, a, b, reg=reg, reg_m=reg_m,
                                                     reg_type=reg_type))
        except FloatingPointError:  # pragma: no cover
            raise


@FUZZ
@given(st.integers(0, 2**32 - 1), sizes, sizes, st.integers(0, 3), values, values, regs,
       st.sampled_from(["sqeuclidean", "euclidean"]), dtypes)
def test_points(seed, m, n, d, kx, kw, reg, cost, dtype):
    rng = np.random.default_rng(seed)
    with np.errstate(over="ignore"):  # a float32 cast of huge inputs: that is the test
        x, y = fill(rng, kx, (m, d)).astype(dtype), rng.standard_normal((n, d)).astype(dtype)
    a = None if kw == "normal" else fill(rng, kw, m)
    res = check(lambda: ot.sinkhorn_points(x, y, a, reg=reg, cost=cost, max_iter=100))
    if res is not None:
        assert np.isfinite(res.f).all() and np.isfinite(res.g).all()
        assert np.isfinite(res.apply(np.ones(n))).all()


@FUZZ
@given(st.integers(0, 2**32 - 1), sizes, sizes, values, regs,
       st.sampled_from([0.5, 0.9, 0.0, 1.0, -1.0, float("nan")]), st.integers(1, 50))
def test_eps_scaling(seed, m, n, kM, reg, factor, max_iter):
    rng = np.random.default_rng(seed)
    M = fill(rng, kM, (m, n))
    res = check(lambda: ot.sinkhorn(M, reg=reg, eps_scaling=factor, max_iter=max_iter))
    if res is not None:
        assert np.isfinite(res.plan).all() and res.n_iter <= max_iter
