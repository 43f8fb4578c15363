"""Fuzzing optkern.linalg (bmm, tridiagonal_solve) with adversarial input: every call returns
the reference's result or raises a ValueError/TypeError naming the argument at fault."""

import adversarial as adv
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference.tv import tridiagonal_matrix

from optkern.linalg import bmm, tridiagonal_solve

pytestmark = pytest.mark.usefixtures("watchdog")

@st.composite
def bmm_shapes(draw):
    """(a.shape, b.shape): mostly compatible, sometimes not (ndim < 2, inner dimensions
    that differ, batch shapes that do not broadcast)."""
    m, k, n = draw(adv.dims(0, 6)), draw(adv.dims(0, 6)), draw(adv.dims(0, 6))
    batch = tuple(draw(st.lists(adv.dims(0, 3), max_size=3)))
    batch_b = tuple(draw(st.sampled_from([batch, batch[1:], (1,) * len(batch), ()])))
    kind = draw(adv.choice(["ok"], ["inner", "ndim", "batch"]))
    a_shape, b_shape = batch + (m, k), batch_b + (k, n)
    if kind == "inner":
        b_shape = batch_b + (k + 1, n)
    elif kind == "ndim":
        a_shape = draw(st.sampled_from([(), (k,), (m, k)]))
    elif kind == "batch":
        a_shape, b_shape = (2, m, k), (3, k, n)
    return a_shape, b_shape


@given(
    shapes=bmm_shapes(),
    a_spec=st.data(),
    out_kind=adv.choice(["none", "none", "good", "alias"], ["shape", "dtype", "readonly"]),
    device=adv.DEVICES,
)
def test_bmm(shapes, a_spec, out_kind, device):
    sa = a_spec.draw(adv.specs(shapes[0]), label="a")
    sb = a_spec.draw(adv.specs(shapes[1]), label="b")
    a, b = sa.build(), sb.build()
    out = None
    if (out_kind != "none" and sa.dtype not in adv.REJECTED_DTYPES
            and sb.dtype not in adv.REJECTED_DTYPES):
        try:
            shape = np.matmul(np.empty(a.shape, np.int8), np.empty(b.shape, np.int8)).shape
        except ValueError:
            shape = (1, 1)
        dtype = adv.policy_dtype(a, b)
        if out_kind == "alias" and a.shape == shape and a.dtype == dtype and a.flags.writeable:
            out = a
        else:
            out = np.full(shape + ((1,) if out_kind == "shape" else ()), np.nan,
                          np.float16 if out_kind == "dtype" else dtype)
            out.flags.writeable = out_kind != "readonly"
    a_before = np.array(a, copy=True)
    outcome = adv.call(bmm, a, b, device=device, out=out, arguments=("a", "b", "out", "device"))
    if adv.check_device(outcome, device):
        return
    for spec, name in ((sa, "a"), (sb, "b")):
        if spec.rejected_dtype:
            return adv.expect_error(outcome, name, "a", "b")  # either may be reported first
    for x, name in ((a, "a"), (b, "b")):
        if x.ndim < 2:
            return adv.expect_error(outcome, name)
    if a.shape[-1] != b.shape[-2]:
        return adv.expect_error(outcome, "a", "b")
    try:
        shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    except ValueError:
        return adv.expect_error(outcome, "a", "b")
    dtype = adv.policy_dtype(a, b)
    if out is not None and out is not a and (out.shape != shape or out.dtype != dtype
                                              or not out.flags.writeable):
        return adv.expect_error(outcome, "out")
    c = adv.expect_ok(outcome)
    assert c.shape == shape and c.dtype == dtype
    if out is not None:
        assert c is out
    # the reference from the inputs rounded to the compute dtype, in float64
    a64 = a_before.astype(dtype).astype(np.float64)
    b64 = b.astype(dtype).astype(np.float64)
    with np.errstate(all="ignore"):
        ref = np.matmul(a64, b64)
        scale = np.matmul(np.abs(a64), np.abs(b64))
    finfo = np.finfo(dtype)
    k = a.shape[-1]
    checked = np.isfinite(scale) & (scale < finfo.max / 4)
    # IEEE rounding: a relative error per term and an absolute one per subnormal result
    tol = 4 * (k + 2) * finfo.eps * scale + (k + 1) * finfo.smallest_subnormal
    with np.errstate(invalid="ignore"):
        error = np.abs(c - ref)
    assert np.all(error[checked] <= tol[checked]), "bmm differs from the reference"
    if k:
        nan_rows = np.isnan(a64).any(axis=-1)[..., :, None]
        nan_cols = np.isnan(b64).any(axis=-2)[..., None, :]
        assert np.isnan(c[np.broadcast_to(nan_rows | nan_cols, shape)]).all(), "NaN was lost"


# --- tridiagonal_solve -------------------------------------------------------------------

NAMES = ("lower", "diag", "upper", "rhs")


@st.composite
def tridiagonal_shapes(draw):
    n = draw(adv.dims(0, 6))
    batch = tuple(draw(st.lists(adv.dims(0, 3), max_size=2)))
    shapes = []
    for name in NAMES:
        own = draw(st.sampled_from([batch, batch[1:], (1,) * len(batch), ()]))
        length = n
        if name in ("lower", "upper") and n > 0:
            length = draw(st.sampled_from([n, n, n - 1]))
        shapes.append(own + (length,))
    kind = draw(adv.choice(["ok"], ["length", "scalar", "batch"]))
    if kind != "ok":
        which = draw(st.integers(0, 3))
        if kind == "length":
            shapes[which] = shapes[which][:-1] + (n + 2,)
        elif kind == "scalar":
            shapes[which] = ()
        elif batch:
            shapes[which] = (max(batch) + 2,) + shapes[which]
    return tuple(shapes)


@given(shapes=tridiagonal_shapes(), data=st.data(), dominant=st.booleans(), device=adv.DEVICES)
def test_tridiagonal_solve(shapes, data, dominant, device):
    spec = [data.draw(adv.specs(shape), label=name) for shape, name in zip(shapes, NAMES)]
    arrays = [s.build() for s in spec]
    if dominant and spec[1].dtype in ("float64", "float32") and not adv.has_nonfinite(arrays[1]):
        arrays[1] = arrays[1] + np.where(arrays[1] < 0, -4, 4).astype(arrays[1].dtype)
    outcome = adv.call(tridiagonal_solve, *arrays, device=device, arguments=NAMES + ("device",))
    if adv.check_device(outcome, device):
        return
    rejected = [name for s, name in zip(spec, NAMES) if s.rejected_dtype]
    if rejected:
        return adv.expect_error(outcome, *rejected)
    # every fault of the input: optkern may report any one of them
    faults = {name for x, name in zip(arrays, NAMES) if x.ndim == 0 or adv.has_nonfinite(x)}
    n = arrays[1].shape[-1] if arrays[1].ndim else 0
    faults |= {name for x, name in zip(arrays, NAMES) if x.ndim and x.shape[-1] not in (
        (n, n - 1) if name in ("lower", "upper") and n else (n,))}
    if faults:
        return adv.expect_error(outcome, *faults)
    try:
        batch = np.broadcast_shapes(*(x.shape[:-1] for x in arrays))
    except ValueError:
        return adv.expect_error(outcome, *NAMES)
    dtype = adv.policy_dtype(*arrays)
    wide = [np.asarray(x, dtype).astype(np.float64) for x in arrays]
    if n:  # widen diagonals of length n - 1 as tridiagonal_solve documents
        wide[0] = wide[0] if wide[0].shape[-1] == n else np.pad(
            wide[0], [(0, 0)] * (wide[0].ndim - 1) + [(1, 0)])
        wide[2] = wide[2] if wide[2].shape[-1] == n else np.pad(
            wide[2], [(0, 0)] * (wide[2].ndim - 1) + [(0, 1)])
    lower, diag, upper, rhs = (np.broadcast_to(x, batch + (n,)) for x in wide)
    conds, refs = [], []
    for index in np.ndindex(batch):
        a = tridiagonal_matrix(lower[index], diag[index], upper[index])
        with np.errstate(all="ignore"):
            conds.append(np.linalg.cond(a) if n else 1.0)
            try:
                refs.append(np.abs(np.linalg.solve(a, rhs[index])).max(initial=0))
            except np.linalg.LinAlgError:
                refs.append(np.inf)
    well_posed = all(c < 1e8 for c in conds) and all(r < 1e290 for r in refs)
    if not outcome.ok:
        assert not well_posed, f"a well-conditioned system was rejected: {outcome.error}"
        assert isinstance(outcome.error, np.linalg.LinAlgError)
        return adv.expect_error(outcome, "diag")
    x = adv.expect_ok(outcome)
    assert x.shape == batch + (n,) and x.dtype == dtype
    if not well_posed:
        assert not np.isnan(x).any(), "NaN from finite input"
        return
    assert np.isfinite(x).all()
    x64 = x.astype(np.float64)
    prod = diag * x64
    if n > 1:
        prod[..., 1:] += lower[..., 1:] * x64[..., :-1]
        prod[..., :-1] += upper[..., :-1] * x64[..., 1:]
    # normwise backward stability, per system (pivoting does not promise it row by row: a
    # row whose terms cancel to 1e-300 may come out as 0)
    eps = np.finfo(dtype).eps
    rows = np.abs(diag).copy()
    rows[..., 1:] += np.abs(lower[..., 1:])
    rows[..., :-1] += np.abs(upper[..., :-1])
    with np.errstate(over="ignore"):  # an Inf bound: nothing checkable at that scale
        scale = (rows.max(axis=-1, initial=0) * np.abs(x64).max(axis=-1, initial=0)
                 + np.abs(rhs).max(axis=-1, initial=0))
    bound = 64 * (n + 1) * eps * scale + 1e3 * np.finfo(dtype).tiny
    assert np.all(np.abs(prod - rhs).max(axis=-1, initial=0) <= bound), "residual too large"


@pytest.mark.parametrize("function", ["bmm", "tridiagonal_solve"])
def test_absurd_batch_raises_memory_error(function):
    """A batch whose result cannot be allocated (zero-stride views make the input free)."""
    big = (2**40,)
    with pytest.raises(MemoryError):
        if function == "bmm":
            bmm(np.broadcast_to(np.ones((1, 2, 2)), big + (2, 2)), np.ones((2, 2)))
        else:
            ones = np.broadcast_to(np.ones(3), big + (3,))
            tridiagonal_solve(ones, 4 * ones, ones, ones)


def test_spec_builder_layouts():
    """The layouts of the fuzz inputs are what they claim (a test of the test tool)."""
    base = adv.ArraySpec((3, 4), "float64", "normal", "c", 1).build()
    for layout in ("fortran", "strided", "reversed", "readonly", "unaligned"):
        x = adv.ArraySpec((3, 4), "float64", "normal", layout, 1).build()
        np.testing.assert_array_equal(x, base)
        assert not x.flags.c_contiguous or layout == "readonly"
    assert adv.ArraySpec((3, 4), "float64", "normal", "unaligned", 1).build().strides[1] == 9
    assert adv.ArraySpec((3, 4), "float64", "normal", "reversed", 1).build().strides[0] < 0


def test_huge_batch_of_tiny_problems(rng):
    a = rng.standard_normal((200_000, 1, 2))
    b = rng.standard_normal((200_000, 2, 1))
    np.testing.assert_allclose(bmm(a, b), a @ b, rtol=1e-14, atol=1e-14)
    for n in (1, 2):
        diag = 4 + rng.random((100_000, n))
        rhs = rng.standard_normal((100_000, n))
        off = rng.random((100_000, n))
        x = tridiagonal_solve(off, diag, off, rhs)
        if n == 1:
            np.testing.assert_allclose(x, rhs / diag, rtol=1e-15)
        else:
            np.testing.assert_allclose(diag[:, :1] * x[:, :1] + off[:, :1] * x[:, 1:], rhs[:, :1],
                                       rtol=1e-12, atol=1e-12)
