"""optkern.linalg.tridiagonal_solve against dense solves: shapes and broadcasting, the two
diagonal-length conventions, pivoting, singular systems and bad input."""

import numpy as np
import pytest
from conftest import EXACT
from reference import tv as ref

from optkern.linalg import tridiagonal_solve


def random_system(rng, shape, dominant=True):
    lower = rng.standard_normal(shape)
    upper = rng.standard_normal(shape)
    diag = (3 + np.abs(rng.standard_normal(shape))) if dominant else rng.standard_normal(shape)
    return lower, diag, upper, rng.standard_normal(shape)


def residual(lower, diag, upper, rhs, x):
    """max |A x - rhs| / (|A| |x| + |rhs|), row by row, in float64."""
    lower, diag, upper, rhs, x = (np.asarray(a, np.float64) for a in (lower, diag, upper, rhs, x))
    ax = diag * x
    ax[..., 1:] += lower[..., 1:] * x[..., :-1]
    ax[..., :-1] += upper[..., :-1] * x[..., 1:]
    size = np.abs(diag * x)
    size[..., 1:] += np.abs(lower[..., 1:] * x[..., :-1])
    size[..., :-1] += np.abs(upper[..., :-1] * x[..., 1:])
    return (np.abs(ax - rhs) / (size + np.abs(rhs) + 1e-300)).max(initial=0.0)


@pytest.mark.parametrize("shape", [(1,), (2,), (7,), (5, 33), (2, 3, 100)])
def test_matches_dense_solve(dtype, rng, shape):
    ops = [a.astype(dtype) for a in random_system(rng, shape)]
    x = tridiagonal_solve(*ops)
    assert x.dtype == dtype
    assert x.shape == shape
    expected = ref.tridiagonal_solve(*ops)
    np.testing.assert_allclose(x, expected, rtol=EXACT[dtype] * 10, atol=EXACT[dtype] * 10)


def test_general_matrices_need_pivoting(rng):
    # tiny diagonals: elimination without pivoting would blow up; partial pivoting does not
    lower, diag, upper, rhs = random_system(rng, (50, 40), dominant=False)
    diag *= 1e-8
    x = tridiagonal_solve(lower, diag, upper, rhs)
    assert residual(lower, diag, upper, rhs, x) < 1e-13
    np.testing.assert_allclose(x, ref.tridiagonal_solve(lower, diag, upper, rhs), rtol=1e-8,
                               atol=1e-8)
    zero_diag = np.zeros(6)  # a zero pivot at the first step, yet a nonsingular matrix
    x = tridiagonal_solve(np.ones(6), zero_diag, np.ones(6), np.arange(6.0))
    assert residual(np.ones(6), zero_diag, np.ones(6), np.arange(6.0), x) < 1e-14


def test_spd_tv_system_uses_thomas_exactly_as_reference(rng):
    # the IRLS matrix: -1 off the diagonal, 2 + |Du|/lam on it
    d = 2 + np.abs(rng.standard_normal(99))
    off = -np.ones(99)
    b = rng.standard_normal(99)
    x = tridiagonal_solve(off, d, off, b)
    np.testing.assert_allclose(x, ref.tridiagonal_solve(off, d, off, b), rtol=1e-11)


def test_short_diagonals_of_length_n_minus_1(rng):
    lower, diag, upper, rhs = random_system(rng, (4, 9))
    full = tridiagonal_solve(lower, diag, upper, rhs)
    np.testing.assert_array_equal(tridiagonal_solve(lower[:, 1:], diag, upper[:, :-1], rhs), full)
    a = np.diag(diag[0]) + np.diag(lower[0, 1:], -1) + np.diag(upper[0, :-1], 1)
    np.testing.assert_allclose(tridiagonal_solve(np.diag(a, -1), np.diag(a), np.diag(a, 1),
                                                 rhs[0]), full[0], rtol=1e-14)


def test_ignored_corner_entries(rng):
    lower, diag, upper, rhs = random_system(rng, (3, 8))
    x = tridiagonal_solve(lower, diag, upper, rhs)
    lower[:, 0] = 1e300
    upper[:, -1] = -7.0
    np.testing.assert_array_equal(tridiagonal_solve(lower, diag, upper, rhs), x)


def test_broadcasting_many_right_hand_sides(rng):
    lower, diag, upper, _ = random_system(rng, (2, 1, 12))
    rhs = rng.standard_normal((2, 5, 12))
    x = tridiagonal_solve(lower, diag, upper, rhs)
    assert x.shape == (2, 5, 12)
    for i in range(2):
        for k in range(5):
            np.testing.assert_allclose(x[i, k], ref.tridiagonal_solve(lower[i, 0], diag[i, 0],
                                                                       upper[i, 0], rhs[i, k]),
                                       rtol=1e-12, atol=1e-12)
    shared = tridiagonal_solve(lower[0, 0], diag[0, 0], upper[0, 0], rhs)  # one matrix for all
    np.testing.assert_allclose(shared[0], x[0], rtol=1e-14)


def test_mixed_dtypes_and_empty(rng):
    lower, diag, upper, rhs = random_system(rng, (6,))
    assert tridiagonal_solve(lower.astype(np.float32), diag.astype(np.float32),
                             upper.astype(np.float32), rhs).dtype == np.float64
    assert tridiagonal_solve([1, 1], [3, 3], [1, 1], [1, 2]).dtype == np.float64
    assert tridiagonal_solve(np.ones((0, 4)), np.ones((0, 4)), np.ones((0, 4)),
                             np.ones((0, 4))).shape == (0, 4)
    assert tridiagonal_solve(np.ones(0), np.ones(0), np.ones(0), np.ones((3, 0))).shape == (3, 0)


def test_singular_systems_raise_linalgerror():
    diag = np.ones((3, 3))
    lower = np.ones((3, 3))
    upper = np.zeros((3, 3))
    upper[:, 0] = 1.0
    diag[0] = [1.0, 2.0, 1.0]  # system 0 is fine, systems 1 and 2 repeat a row
    with pytest.raises(np.linalg.LinAlgError, match=r"^diag: the system at batch index \(1,\)"):
        tridiagonal_solve(lower, diag, upper, np.ones((3, 3)))
    with pytest.raises(ValueError, match="^diag:"):  # LinAlgError is a ValueError
        tridiagonal_solve(np.zeros(4), np.zeros(4), np.zeros(4), np.ones(4))


@pytest.mark.parametrize(
    ("shapes", "match"),
    [
        (((5,), (5,), (5,), (4,)), "^rhs:"),
        (((3,), (5,), (5,), (5,)), "^lower:"),
        (((5,), (5,), (6,), (5,)), "^upper:"),
        (((2, 5), (3, 5), (5,), (5,)), "^lower, diag"),
        (((), (5,), (5,), (5,)), "^lower:"),
    ],
)
def test_bad_shapes(shapes, match):
    with pytest.raises(ValueError, match=match):
        tridiagonal_solve(*(np.ones(s) for s in shapes))


def test_non_finite_and_non_numeric_input():
    with pytest.raises(ValueError, match="^diag:"):
        tridiagonal_solve(np.ones(3), np.array([1.0, np.nan, 1.0]), np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="^rhs:"):
        tridiagonal_solve(np.ones(3), np.ones(3), np.ones(3), np.array([1.0, np.inf, 1.0]))
    with pytest.raises(ValueError, match="^upper:"):
        tridiagonal_solve(np.ones(3), np.ones(3), np.ones(3, complex), np.ones(3))
    with pytest.raises(ValueError, match="^device:"):
        tridiagonal_solve(np.ones(3), np.ones(3), np.ones(3), np.ones(3), device="metal")
