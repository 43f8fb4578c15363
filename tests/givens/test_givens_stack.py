"""givens.factorize on stacks of matrices (..., d, d): one sequence per matrix."""

import numpy as np
import pytest

import optkern


def test_stack_gives_one_sequence_per_matrix(dtype, rng):
    U = np.stack([optkern.givens.planted(6, 4, rng) for _ in range(6)]).astype(dtype)
    U = U.reshape(3, 2, 6, 6)
    seqs = optkern.givens.factorize(U, 8, method="l1")
    assert seqs.shape == (3, 2)
    assert seqs.dtype == object
    for index in np.ndindex(3, 2):
        single = optkern.givens.factorize(U[index], 8, method="l1")
        assert seqs[index].dtype == dtype
        np.testing.assert_array_equal(seqs[index].i, single.i)
        np.testing.assert_array_equal(seqs[index].theta, single.theta)


def test_stack_passes_callback_to_each_matrix(rng):
    U = np.stack([optkern.givens.planted(5, 3, rng) for _ in range(2)])
    steps = []
    seqs = optkern.givens.factorize(U, 4, callback=lambda step: steps.append(step))
    assert len(steps) == sum(len(s) for s in seqs)


def test_empty_stack_checks_like_one_matrix():
    assert optkern.givens.factorize(np.zeros((0, 4, 4)), 6).shape == (0,)
    with pytest.raises(ValueError, match="^n_factors:"):  # as for one matrix
        optkern.givens.factorize(np.zeros((0, 4, 4)))
    with pytest.raises(ValueError, match="^U: expected square matrices"):
        optkern.givens.factorize(np.zeros((0, 3, 4)))
    with pytest.raises(ValueError, match="^U: expected matrices of size at least 2 x 2"):
        optkern.givens.factorize(np.zeros((0, 1, 1)))
    with pytest.raises(ValueError, match="^U: .*complex"):
        optkern.givens.factorize(np.zeros((0, 4, 4), complex))
    with pytest.raises(ValueError, match="^method"):
        optkern.givens.factorize(np.zeros((2, 0, 4, 4)), method="nope")
    with pytest.raises(ValueError, match="^n_factors"):
        optkern.givens.factorize(np.zeros((0, 4, 4)), -1)


def test_stack_errors_name_the_argument(rng):
    U = np.stack([optkern.givens.planted(4, 2, rng), np.ones((4, 4))])
    with pytest.raises(ValueError, match="^U: expected an orthogonal matrix"):
        optkern.givens.factorize(U, 4)
    with pytest.raises(ValueError, match="^U: expected a square matrix"):
        optkern.givens.factorize(np.zeros((2, 3, 4)))
