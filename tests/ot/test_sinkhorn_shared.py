"""The torch adapter's device backward (optkern/torch/_device_vjp.py) against the C++ one
(optkern.ot.sinkhorn_vjp): the same algorithm, the same null-space treatment (one grounded
node of the side with fewer active nodes), the same singular verdicts. Run on CPU tensors."""

import numpy as np
import pytest
from conftest import EXACT

import optkern

torch = pytest.importorskip("torch")
from optkern.torch import _device_vjp  # noqa: E402

REG = 0.2


def plan(rng, shape, dtype, a=None, b=None):
    M = rng.random(shape)
    return optkern.ot.sinkhorn(M, a, b, reg=REG, tol=1e-13).plan.astype(dtype)


def both(P, W, reg=REG):
    want = optkern.ot.sinkhorn_vjp(P, W, reg, on_singular="nan")
    got = _device_vjp.sinkhorn_vjp(torch.from_numpy(P), torch.from_numpy(W), reg,
                                   on_singular="nan")
    return [g.numpy() for g in got], want


def assert_same(got, want, dtype):
    rtol = EXACT[dtype]
    for g, w in zip(got, want):
        assert g.dtype == w.dtype == dtype
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
        scale = np.nanmax(np.abs(w)) if np.isfinite(w).any() else 1.0
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("shape", [(5, 5), (4, 7), (7, 4), (3, 4, 6)])
def test_matches_the_cpp_backward(rng, dtype, shape):
    P = plan(rng, shape, dtype)
    got, want = both(P, rng.standard_normal(shape).astype(dtype))
    assert_same(got, want, dtype)


def test_zero_weights_ground_the_first_active_node(rng, dtype):
    # Row 0 and column 1 are empty: they leave the system (NaN multipliers, zero grad_M), and
    # the grounded node is row 1, the first active one.
    a = np.array([0.0, 0.2, 0.5, 0.3])
    b = np.array([0.4, 0.0, 0.35, 0.25, 0.0])
    P = plan(rng, (4, 5), dtype, a, b)
    got, want = both(P, rng.standard_normal((4, 5)).astype(dtype))
    assert np.isnan(want[1][0]) and np.isnan(want[2][[1, 4]]).all()
    assert_same(got, want, dtype)
    lam, mu = got[1].astype(np.float64), got[2].astype(np.float64)
    np.testing.assert_allclose(np.nansum(lam), np.nansum(mu), atol=10 * EXACT[dtype])  # gauge


def test_the_side_with_fewer_active_nodes_is_eliminated(rng, dtype):
    # 4 x 6 by shape, but 4 active rows against 3 active columns: the C++ solver takes the
    # complement on the columns, and so does the torch one, also inside a batch whose other
    # problem takes it on the rows.
    b = np.array([0.5, 0.0, 0.3, 0.0, 0.2, 0.0])
    P = np.stack([plan(rng, (4, 6), dtype, None, b), plan(rng, (4, 6), dtype)])
    got, want = both(P, rng.standard_normal((2, 4, 6)).astype(dtype))
    assert_same(got, want, dtype)


def test_singular_verdicts_agree_near_the_threshold(dtype):
    # Two blocks joined by one entry e: the Laplacian's smallest nonzero eigenvalue goes to 0
    # with e. The grounded factorization flags the same problems as the C++ one (the former
    # alpha 1 1^T treatment called e = 1e-16 singular where the C++ solver did not).
    W = np.array([[1.0, -2.0, 0.5], [0.3, 0.7, -1.0], [2.0, 0.1, 0.4]], dtype=dtype)
    verdicts = []
    for e in [1e-10, 1e-13, 1e-15, 1e-16, 1e-30, 0.0]:
        P = np.array([[0.3, 0.2, e], [0.2, 0.1, 0.0], [0.0, 0.0, 0.2]], dtype=dtype)
        got, want = both(P, W, 0.1)
        verdicts.append(bool(np.isnan(want[0]).all()))
        assert bool(np.isnan(got[0]).all()) == verdicts[-1], e
        np.testing.assert_array_equal(np.isnan(got[1]), np.isnan(want[1]))
    assert verdicts[0] is False and verdicts[-1] is True  # both verdicts are exercised
    with pytest.raises(optkern.ot.SinkhornBackwardError):
        _device_vjp.sinkhorn_vjp(torch.from_numpy(P), torch.from_numpy(W), 0.1)


def test_empty_batch():
    P = torch.zeros((0, 3, 4), dtype=torch.float64)
    grad_M, lam, mu = _device_vjp.sinkhorn_vjp(P, torch.ones_like(P), REG)
    assert grad_M.shape == (0, 3, 4) and lam.shape == (0, 3) and mu.shape == (0, 4)
