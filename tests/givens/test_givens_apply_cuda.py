"""GivensSequence.apply(device="cuda") and seq @ X on GPU arrays (issue 17): the layered
kernels against the CPU path, with and without the signed permutation, in both directions,
for tiles in shared memory and the per-layer fallback (columns too long for shared memory)."""

import numpy as np
import pytest
from conftest import ACCUMULATED
from gpu_arrays import gpu_libraries, to_gpu, to_host

from optkern.givens import GivensSequence

pytestmark = pytest.mark.cuda


def random_sequence(d, n, rng, dtype, signed):
    i = rng.integers(0, d - 1, n)
    j = i + 1 + (rng.integers(0, 2**31, n) % (d - 1 - i))
    theta = rng.uniform(-np.pi, np.pi, n).astype(dtype)
    if not signed:
        return GivensSequence(i, j, theta, d)
    return GivensSequence(i, j, theta, d, rng.permutation(d), rng.choice([-1, 1], d))


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize(("d", "shape"), [(7, (7,)), (33, (33, 5)), (64, (3, 64, 130)),
                                          (9000, (9000, 3))])  # 9000 doubles: no shared tile
def test_numpy_operands_on_cuda_match_cpu(dtype, rng, signed, transpose, d, shape):
    seq = random_sequence(d, 4 * d, rng, dtype, signed)
    X = rng.standard_normal(shape).astype(dtype)
    expected = seq.apply(X, transpose)
    got = seq.apply(X, transpose, device="cuda")
    assert isinstance(got, np.ndarray) and got.shape == X.shape and got.dtype == dtype
    np.testing.assert_allclose(got, expected, atol=ACCUMULATED[dtype])


@pytest.mark.parametrize("lib", gpu_libraries())
@pytest.mark.parametrize("signed", [False, True])
def test_gpu_arrays_stay_on_the_device(dtype, rng, lib, signed):
    d = 48
    seq = random_signed = random_sequence(d, 300, rng, dtype, signed)
    X = rng.standard_normal((2, d, 17)).astype(dtype)
    gx = to_gpu(X, lib)
    out = seq @ gx
    assert type(out) is type(gx)
    np.testing.assert_allclose(to_host(out), seq @ X, atol=ACCUMULATED[dtype])
    back = seq.apply(out, transpose=True, device="auto")
    np.testing.assert_allclose(to_host(back), X, atol=ACCUMULATED[dtype])
    np.testing.assert_allclose(to_host(gx), X)  # the input is untouched
    rows = to_gpu(rng.standard_normal((3, 5, d)).astype(dtype), lib)
    right = rows @ seq
    assert type(right) is type(rows)
    np.testing.assert_allclose(to_host(right), to_host(rows) @ seq,
                               atol=ACCUMULATED[dtype])
    assert random_signed is seq


def test_empty_and_bad_operands_on_cuda(rng):
    seq = random_sequence(5, 10, rng, np.float64, True)
    assert seq.apply(np.zeros((5, 0)), device="cuda").shape == (5, 0)
    empty = GivensSequence([], [], [], 5)
    np.testing.assert_array_equal(empty.apply(np.eye(5), device="cuda"), np.eye(5))
    with pytest.raises(ValueError, match="^X: expected shape"):
        seq.apply(np.ones((4, 2)), device="cuda")
