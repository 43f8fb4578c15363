"""Fuzzing optkern.ot (sinkhorn, sinkhorn_cost, sinkhorn_vjp) with adversarial input: every
call returns a correct result or raises a ValueError/TypeError naming the argument."""

import adversarial as adv
import numpy as np
import pytest
from conftest import EXACT, ILL_CONDITIONED
from hypothesis import given
from hypothesis import strategies as st
from invariants import assert_converged_implies_finite, unrepresentable
from reference.sinkhorn import kkt_vjp_dense, sinkhorn_reference

from optkern import ot

pytestmark = pytest.mark.usefixtures("watchdog")

WEIGHTS = {"fills": ["positive", "positive", "tiny+", "edges+", "huge+"],
           "bad_fills": ["zeros", "normal", "nonfinite"]}


@st.composite
def problem_shapes(draw):
    """Shapes of M, a, b (None: the default), with broadcasting and some misfits."""
    m, n = draw(adv.dims(0, 5)), draw(adv.dims(0, 5))
    batch = tuple(draw(st.lists(adv.dims(1, 2), max_size=2)))
    shapes = {"M": batch + (m, n)}
    for name, size in (("a", m), ("b", n)):
        own = draw(adv.choice([None, (), batch, batch[1:]], ["wrong"]))
        if own == "wrong":
            shapes[name] = draw(st.sampled_from([(size + 1,), (), (3,) + (size,)]))
        else:
            shapes[name] = None if own is None else own + (size,)
    return shapes


def weights_fault(x, name, size, dtype=np.float64):
    """Why the marginal x (None or an array) is invalid in `dtype` (M's), or None."""
    if x is None:
        return None
    if x.dtype.kind not in "biuf" or x.ndim < 1 or x.shape[-1] != size:
        return name
    with np.errstate(all="ignore"):
        x64 = np.asarray(x, dtype).astype(np.float64)
    if adv.has_nonfinite(x64):
        return name
    if x.size and x64.min() < 0:
        return name
    with np.errstate(over="ignore"):  # a sum past 1.8e308 is Inf: out of range below
        sums = x64.sum(axis=-1)
    if np.any(sums <= 0) or np.any((sums < 1e-300) | ~(sums <= 1e300)):
        return name  # no mass, or a mass out of optkern's range
    return None


def equal_mass(a, b, dtype):
    sa = np.asarray(a, dtype).sum(axis=-1, dtype=np.float64)
    sb = np.asarray(b, dtype).sum(axis=-1, dtype=np.float64)
    try:
        sa, sb = np.broadcast_arrays(sa, sb)
    except ValueError:
        return False
    return bool(np.all(np.abs(sa - sb) <= 1e-6 * np.maximum(sa, sb)))


@st.composite
def inits(draw):
    return draw(adv.choice([None, None, None, "f", "g", "both"],
                           ["none pair", "bad shape", "nan", "not a pair"]))


def make_init(kind, m, n, rng):
    if kind is None:
        return None
    f, g = rng.standard_normal(m), rng.standard_normal(n)
    return {"f": (f, None), "g": (None, g), "both": (f, g), "none pair": (None, None),
            "bad shape": (None, np.zeros(n + 1)), "nan": (None, np.full(n, np.nan)),
            "not a pair": f}[kind]


@given(shapes=problem_shapes(), data=st.data(),
       reg=adv.scalars(st.sampled_from([1.0, 0.1, 0.03, 10.0, 1e-3, 1e300, 1e307])),
       method=adv.choice(["auto", "auto", "plain", "log"], ["exact"]),
       tol=adv.scalars(st.sampled_from([1e-9, 1e-6, 0.0])),
       max_iter=adv.scalars(st.sampled_from([1, 10, 2000, np.int64(50)])),
       init_kind=inits(), balance=st.booleans(), cost=st.booleans(), device=adv.DEVICES)
def test_sinkhorn(shapes, data, reg, method, tol, max_iter, init_kind, balance, cost, device):
    Ms = data.draw(adv.specs(shapes["M"]), label="M")
    M = Ms.build()
    ab = {}
    for name in ("a", "b"):
        shape = shapes[name]
        ab[name] = None if shape is None else data.draw(
            adv.specs(shape, **WEIGHTS), label=name).build()
    a, b = ab["a"], ab["b"]
    m, n = shapes["M"][-2:]
    if (balance and a is not None and b is not None and weights_fault(a, "a", m) is None
            and weights_fault(b, "b", n) is None and a.dtype.kind == "f" == b.dtype.kind):
        with np.errstate(all="ignore"):  # huge weights: their sums overflow to Inf
            scale = np.asarray(a, np.float64).sum(-1, keepdims=True)
            b = (np.asarray(b, np.float64) / np.asarray(b, np.float64).sum(-1, keepdims=True)
                 * np.mean(scale)).astype(b.dtype)  # same mass (up to the batch spread)
    init = make_init(init_kind, m, n, np.random.default_rng(0))
    function = ot.sinkhorn_cost if cost else ot.sinkhorn
    extra = {"return_grad": True} if cost else {}
    outcome = adv.call(function, M, a, b, reg=reg, method=method, tol=tol, max_iter=max_iter,
                       init=init, device=device, **extra,
                       arguments=("M", "a", "b", "reg", "method", "tol", "max_iter", "init",
                                  "device"))
    faults = set()
    if not (adv.finite_number(reg) and reg >= 1e-300):
        faults.add("reg")
    if not (adv.finite_number(tol) and tol >= 0):
        faults.add("tol")
    if not (adv.is_number(max_iter) and float(max_iter).is_integer() and 1 <= max_iter < 2**31):
        faults.add("max_iter")
    if method not in ("auto", "plain", "log"):
        faults.add("method")
    if device not in ("cpu", "auto"):
        faults.add("device")
    if faults:
        return adv.expect_error(outcome, *faults)
    if M.dtype.kind not in "biuf" or M.ndim < 2 or 0 in M.shape[-2:] or adv.has_nonfinite(M):
        return adv.expect_error(outcome, "M")
    dtype = np.float32 if Ms.compute_dtype == "float32" else np.float64
    M64 = np.asarray(M, np.float64)
    with np.errstate(over="ignore"):
        too_large = np.abs(M64).max() / reg > 1e15
    if too_large:
        return adv.expect_error(outcome, "M", "reg")
    faults = {f for f in (weights_fault(a, "a", m, dtype), weights_fault(b, "b", n, dtype)) if f}
    if faults:
        return adv.expect_error(outcome, *faults)
    a_full = np.full(m, 1.0 / m, dtype) if a is None else np.asarray(a, dtype)
    b_full = (np.full(n, a_full.sum(-1, dtype=np.float64).mean() / n) if b is None
              else np.asarray(b, dtype))
    if b is not None and not equal_mass(a_full, b_full, dtype):
        return adv.expect_error(outcome, "a", "b")
    if init_kind in ("none pair", "bad shape", "nan", "not a pair"):
        return adv.expect_error(outcome, "init")
    try:
        batch = np.broadcast_shapes(M.shape[:-2], a_full.shape[:-1], b_full.shape[:-1])
    except ValueError:
        return adv.expect_error(outcome, "M", "a", "b")
    if unrepresentable(outcome):  # potentials or value beyond the range: only near overflow
        M64 = np.abs(np.asarray(M, np.float64))
        assert reg >= 1e30 or M64.max(initial=0) >= 1e30, outcome.error
        return
    result = adv.expect_ok(outcome)
    if cost:
        value, (plan, f, g) = result
        res = ot.sinkhorn(M, a, b, reg=reg, method=method, tol=tol, max_iter=max_iter,
                          init=init)
        np.testing.assert_array_equal(np.asarray(value), np.asarray(res.value))
        gauge = np.abs(f).sum(-1) + np.abs(g).sum(-1)  # the minimum-norm gauge, to rounding
        assert np.all(np.abs(f.sum(-1) - g.sum(-1)) <= 4 * np.finfo(f.dtype).eps * gauge
                      * (f.shape[-1] + g.shape[-1]) + 1e-300)
    else:
        res = result
    check_sinkhorn_result(res, M, a_full, b_full, reg, tol, batch, dtype)


def check_sinkhorn_result(res, M, a, b, reg, tol, batch, dtype):
    assert_converged_implies_finite(res.converged, plan=res.plan, f=res.f, g=res.g,
                                    cost=res.cost, value=res.value)
    m, n = M.shape[-2:]
    assert res.plan.shape == batch + (m, n) and res.plan.dtype == dtype
    assert res.f.shape == batch + (m,) and res.g.shape == batch + (n,)
    for name in ("plan", "f", "g", "cost", "value", "marginal_error"):
        assert np.isfinite(getattr(res, name)).all(), f"{name}: NaN or Inf from finite input"
    plan = res.plan.astype(np.float64)
    assert (plan >= 0).all()
    a64 = np.broadcast_to(np.asarray(a, np.float64), batch + (m,))
    b64 = np.broadcast_to(np.asarray(b, np.float64), batch + (n,))
    b64 = b64 * (a64.sum(-1, keepdims=True) / b64.sum(-1, keepdims=True))  # b is rescaled
    error = np.maximum(np.abs(plan.sum(-1) - a64).max(-1), np.abs(plan.sum(-2) - b64).max(-1))
    mass = a64.sum(-1)
    # the reported error is the plan's (up to the float64 sums of a float32 plan)
    np.testing.assert_allclose(res.marginal_error, error, rtol=1e-3,
                               atol=EXACT[dtype] * mass.max())
    converged = np.asarray(res.converged)
    unit = np.finfo(dtype).eps / 2
    bound = tol * mass + unit * np.maximum(a64.max(-1), b64.max(-1))
    assert np.all(converged == (np.asarray(res.marginal_error) <= bound))
    M64 = np.broadcast_to(np.asarray(M, np.float64), batch + (m, n))
    span = np.ptp(M64, axis=(-2, -1)) if M64.size else np.zeros(batch)
    for index in np.ndindex(batch):
        # the reference (log domain, float64) where the problem is well scaled and solved
        if (converged[index] if converged.ndim else converged) and dtype == np.float64 \
                and span[index] / reg < 30 and tol >= 1e-9 and 1e-100 < mass[index] < 1e100 \
                and a64[index].min() > 1e-6 * mass[index] and b64[index].min() > 1e-6 * mass[index]:
            P, _, _, _ = sinkhorn_reference(M64[index], a64[index], b64[index], reg,
                                            tol=1e-13, max_iter=20000)
            scale = mass[index]
            tolerance = 1e-5 * scale + 1e3 * max(tol, 1e-12) * scale * (1 + span[index] / reg)
            assert np.abs(plan[index] - P).max() <= tolerance, "plan differs from the reference"


# --- sinkhorn_vjp -----------------------------------------------------------------------


def connected_support(P):
    """Whether the rows and columns of P with any mass are connected by its positive
    entries (a bipartite graph): else the backward's system is singular."""
    with np.errstate(over="ignore"):  # Inf is > 0 all the same
        rows = np.flatnonzero(P.sum(1) > 0)
        cols = np.flatnonzero(P.sum(0) > 0)
    if rows.size == 0:
        return True
    strong = P > 1e-8 * P.max()
    seen_r, seen_c = {int(rows[0])}, set()
    frontier = [("r", int(rows[0]))]
    while frontier:
        side, k = frontier.pop()
        nbrs = np.flatnonzero(strong[k] if side == "r" else strong[:, k])
        for j in nbrs:
            other, seen = ("c", seen_c) if side == "r" else ("r", seen_r)
            if int(j) not in seen:
                seen.add(int(j))
                frontier.append((other, int(j)))
    return len(seen_r) == rows.size and len(seen_c) == cols.size


@given(data=st.data(), m=adv.dims(0, 5), n=adv.dims(0, 5),
       batch=st.lists(adv.dims(1, 2), max_size=2).map(tuple),
       source=adv.choice(["sinkhorn", "sinkhorn", "spec"]),
       grad_shape=adv.choice(["same", "same", "broadcast"], ["wrong"]),
       marginals=adv.choice(["none", "none", "given"], ["wrong"]),
       reg=adv.scalars(st.sampled_from([1.0, 0.1, 0.5])),
       on_singular=adv.choice(["raise", "raise", "nan"], ["ignore"]))
def test_sinkhorn_vjp(data, m, n, batch, source, grad_shape, marginals, reg, on_singular):
    shape = batch + (m, n)
    if source == "sinkhorn" and m and n and adv.finite_number(reg) and reg >= 0.01:
        rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
        P = ot.sinkhorn(rng.random(shape), reg=float(reg)).plan
        P = P.astype(data.draw(st.sampled_from([np.float64, np.float32]), label="dtype"))
    else:
        P = data.draw(adv.specs(shape, **WEIGHTS), label="P").build()
    gshape = {"same": shape, "broadcast": shape[-1:], "wrong": shape[:-1] + (n + 1,)}[grad_shape]
    W = data.draw(adv.specs(gshape), label="grad_P").build()
    a = b = None
    if marginals != "none" and P.dtype.kind in "biuf" and P.ndim >= 2:
        with np.errstate(all="ignore"):
            a, b = np.asarray(P, np.float64).sum(-1), np.asarray(P, np.float64).sum(-2)
        if marginals == "wrong":
            a = np.ones(m + 1)
    outcome = adv.call(ot.sinkhorn_vjp, P, W, reg, a, b, on_singular=on_singular,
                       arguments=("P", "grad_P", "reg", "a", "b", "on_singular"))
    faults = set()
    if not (adv.finite_number(reg) and reg >= 1e-300):
        faults.add("reg")
    if on_singular not in ("raise", "nan"):
        faults.add("on_singular")
    if faults:
        return adv.expect_error(outcome, *faults)
    if P.dtype.kind not in "biuf" or P.ndim < 2 or 0 in P.shape[-2:] or adv.has_nonfinite(P) \
            or (np.asarray(P, np.float64) < 0).any():
        return adv.expect_error(outcome, "P")
    dtype = adv.policy_dtype(P).type
    with np.errstate(all="ignore"):
        if W.dtype.kind not in "biuf" or adv.has_nonfinite(np.asarray(W, dtype)):
            return adv.expect_error(outcome, "grad_P")
    try:
        np.broadcast_shapes(W.shape, P.shape) == P.shape or 1 / 0
    except (ValueError, ZeroDivisionError):
        return adv.expect_error(outcome, "grad_P")
    for x, name, size in ((a, "a", m), (b, "b", n)):
        if weights_fault(x, name, size, dtype):
            return adv.expect_error(outcome, name)
    P64 = np.asarray(P, dtype).astype(np.float64)
    W64 = np.broadcast_to(np.asarray(W, dtype).astype(np.float64), P.shape)
    singular = [index for index in np.ndindex(batch) if not connected_support(P64[index])]
    if not outcome.ok:
        assert on_singular == "raise" and isinstance(outcome.error, ot.SinkhornBackwardError), \
            outcome.error
        return adv.expect_error(outcome, "P")
    grad_M, grad_a, grad_b = adv.expect_ok(outcome)
    assert grad_M.shape == P.shape and grad_M.dtype == dtype
    assert grad_a.shape == batch + (m,) and grad_b.shape == batch + (n,)
    for index in np.ndindex(batch):
        p, w = P64[index], W64[index]
        rows, cols = p.sum(1) > 0, p.sum(0) > 0
        if index in singular:
            continue
        # NaN only for rows and columns without mass (documented), never in grad_M; Inf
        # only where the true value is out of range (grad_P near 1.8e308)
        with np.errstate(over="ignore"):  # gradients of the size of |P| |W| / reg
            huge = not adv.moderate(w) or p.max() * np.abs(w).max() / reg * (m + n) > 1e300
        finite = (lambda v: ~np.isnan(v)) if huge else np.isfinite
        assert finite(grad_M[index]).all()
        assert finite(grad_a[index][rows]).all() and finite(grad_b[index][cols]).all()
        sub = p[np.ix_(rows, cols)]
        if sub.size == 0 or sub.min() < 1e-6 * sub.max() or np.abs(w).max() > 1e100:
            continue
        # the multipliers do not change when P is scaled (the system is homogeneous in P)
        # and grad_M scales with it: the reference runs on P / 2^k, clear of subnormals
        unit = np.ldexp(1.0, np.frexp(sub.max())[1] - 1)
        ref_M, lam, mu = kkt_vjp_dense(sub / unit, w[np.ix_(rows, cols)], reg)
        ref_M = ref_M * unit
        scale = np.abs(sub * w[np.ix_(rows, cols)]).max() / reg * (m + n) + 1e-300
        rtol = ILL_CONDITIONED[dtype]
        cond = sub.max() / sub.min()
        # results below the dtype's range round to 0, and a subnormal W carries an
        # absolute error of its smallest step, times P
        floor = np.finfo(dtype).tiny + 4 * sub.max() * np.finfo(np.float64).smallest_subnormal \
            / reg
        assert np.abs(grad_M[index][np.ix_(rows, cols)] - ref_M).max() <= \
            rtol * cond * scale + floor
        # the multipliers up to their gauge: lam_i + mu_j is gauge-free
        pair = grad_a[index][rows][:, None] + grad_b[index][cols][None, :]
        ref_pair = lam[:, None] + mu[None, :]
        assert np.abs(pair - ref_pair).max() <= rtol * cond * (np.abs(ref_pair).max() + 1) * 10 \
            + 4 * np.finfo(np.float64).smallest_subnormal


def test_absurd_batch_raises_memory_error():
    # a batch of 2^24 weights shared with one cost row of 2^20 columns: 128 TiB of plans
    a = np.broadcast_to(np.ones((1, 1)), (2**24, 1))
    with pytest.raises(MemoryError):
        ot.sinkhorn(np.ones((1, 2**20)), a, reg=1.0)
    P = np.broadcast_to(np.ones((3, 3)), (2**40, 3, 3))
    with pytest.raises(MemoryError):
        ot.sinkhorn_vjp(P, P, 1.0)


def test_huge_batch_of_tiny_problems():
    rng = np.random.default_rng(5)
    # 1 x 1: the plan is the mass, whatever the cost
    a = rng.random((100_000, 1)) + 0.1
    res = ot.sinkhorn(rng.random((100_000, 1, 1)), a, a, reg=0.1)
    np.testing.assert_allclose(res.plan[:, 0, 0], a[:, 0], rtol=1e-14)
    # 2 x 2 with uniform marginals: P = [[p, 1/2 - p], [1/2 - p, p]] / 1, p from the costs
    M = rng.random((50_000, 2, 2))
    res = ot.sinkhorn(M, reg=0.5, tol=1e-12)
    assert bool(np.all(res.converged))
    k = np.exp(-(M[:, 0, 0] + M[:, 1, 1] - M[:, 0, 1] - M[:, 1, 0]) / 0.5)  # p^2/(1/2-p)^2
    p = 0.5 * np.sqrt(k) / (1 + np.sqrt(k))
    np.testing.assert_allclose(res.plan[:, 0, 0], p, rtol=1e-9)
    grad_M, _, _ = ot.sinkhorn_vjp(res.plan, np.ones_like(M), 0.5)
    np.testing.assert_allclose(grad_M, 0.0, atol=1e-12)  # a constant W changes nothing
