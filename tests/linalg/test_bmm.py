"""optkern.linalg.bmm against the NumPy reference: shapes, strides, dtypes, out=, bad input."""

import numpy as np
import pytest
from conftest import PRODUCT
from hypothesis import given, settings
from hypothesis import strategies as st
from reference.matmul import bmm_reference

import optkern
from optkern.linalg import bmm


def assert_matches(c, a, b):
    expected = bmm_reference(a, b)
    assert c.shape == expected.shape
    rtol = PRODUCT[c.dtype]
    # scale by the size of the terms, so that cancellation does not fail float32
    scale = bmm_reference(np.abs(a), np.abs(b)) + np.finfo(np.float64).tiny
    err = np.abs(c - expected) / scale
    assert err.max(initial=0) <= rtol * max(4, np.sqrt(a.shape[-1])), err.max(initial=0)


@pytest.mark.parametrize(
    ("batch", "m", "k", "n"),
    [
        ((), 1, 1, 1),
        ((3,), 4, 4, 4),
        ((7,), 5, 3, 2),
        ((2, 3), 16, 16, 16),
        ((4,), 33, 17, 9),
        ((2,), 64, 64, 64),
        ((1,), 130, 300, 70),  # k > one depth block (KC): the accumulate path
        ((3,), 7, 5, 1),
        ((2,), 1, 9, 31),
    ],
)
def test_matches_reference(dtype, rng, batch, m, k, n):
    a = rng.standard_normal(batch + (m, k)).astype(dtype)
    b = rng.standard_normal(batch + (k, n)).astype(dtype)
    c = bmm(a, b)
    assert c.dtype == dtype
    assert_matches(c, a, b)


def test_wide_and_large_products(rng):
    # wider than one packed panel of B (NC = 2048 columns) and split across threads
    a = rng.standard_normal((3, 2100))
    b = rng.standard_normal((2100, 2100 + 5))
    assert_matches(bmm(a[:2], b), a[:2], b)
    a = rng.standard_normal((1, 200, 180))
    b = rng.standard_normal((1, 180, 190))
    assert_matches(bmm(a, b), a, b)


@given(
    batch=st.lists(st.integers(0, 3), min_size=0, max_size=3),
    m=st.integers(1, 20),
    k=st.integers(0, 20),
    n=st.integers(1, 20),
    float32=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=150, deadline=None)
def test_random_shapes(batch, m, k, n, float32, seed):
    rng = np.random.default_rng(seed)
    dtype = np.float32 if float32 else np.float64
    a = rng.standard_normal(tuple(batch) + (m, k)).astype(dtype)
    b = rng.standard_normal(tuple(batch) + (k, n)).astype(dtype)
    assert_matches(bmm(a, b), a, b)


@pytest.mark.parametrize(
    ("a_shape", "b_shape"),
    [
        ((5, 3, 4), (4, 2)),
        ((3, 4), (6, 4, 2)),
        ((2, 1, 3, 4), (5, 4, 2)),
        ((1, 3, 4), (7, 4, 2)),
        ((2, 1, 1, 3, 4), (1, 3, 1, 4, 6)),
    ],
)
def test_broadcasting(dtype, rng, a_shape, b_shape):
    a = rng.standard_normal(a_shape).astype(dtype)
    b = rng.standard_normal(b_shape).astype(dtype)
    c = bmm(a, b)
    assert c.shape == np.matmul(a, b).shape
    assert_matches(c, a, b)


def test_non_contiguous_views_are_read_in_place(dtype, rng):
    base_a = rng.standard_normal((4, 9, 12)).astype(dtype)
    base_b = rng.standard_normal((4, 12, 10)).astype(dtype)
    views = [
        (base_a.transpose(0, 2, 1), base_b[:, :9, :]),  # transposed A
        (base_a[:, ::2, 1::2], base_b[:, ::2, ::3]),  # strided
        (base_a[::-1, ::-1], base_b[:, :, ::-1]),  # reversed
        (base_a, base_b.transpose(0, 2, 1).copy().transpose(0, 2, 1)),  # column-major B
        (base_a[1], base_b[2]),
    ]
    for a, b in views:
        assert_matches(bmm(a, b), a, b)


def test_odd_byte_strides_are_accepted(rng):
    rec = np.zeros((3, 4), dtype=[("x", np.float64), ("pad", np.int8)])
    rec["x"] = rng.standard_normal((3, 4))
    a = rec["x"]  # strides of 9 bytes: not a multiple of the item size
    b = rng.standard_normal((4, 2))
    assert_matches(bmm(a, b), a, b)


def test_many_batch_dimensions(rng):
    a = rng.standard_normal((2,) * 10 + (3, 4))
    b = rng.standard_normal((4, 2))
    assert_matches(bmm(a, b), a, b)
    a_scattered = rng.standard_normal((3,) * 10 + (3, 4))[(slice(None, None, 2),) * 10]
    assert_matches(bmm(a_scattered, b), a_scattered, b)


def test_empty_batches_and_degenerate_sizes(dtype):
    assert bmm(np.zeros((0, 3, 4), dtype), np.zeros((0, 4, 5), dtype)).shape == (0, 3, 5)
    assert bmm(np.zeros((2, 0, 4), dtype), np.zeros((2, 4, 5), dtype)).shape == (2, 0, 5)
    assert bmm(np.zeros((2, 3, 4), dtype), np.zeros((2, 4, 0), dtype)).shape == (2, 3, 0)
    c = bmm(np.ones((2, 3, 0), dtype), np.ones((2, 0, 5), dtype))  # k = 0: zeros
    assert c.shape == (2, 3, 5) and not c.any()
    assert bmm(np.array([[2.0]], dtype), np.array([[3.0]], dtype))[0, 0] == 6.0


def test_dtype_policy():
    i = np.arange(6).reshape(2, 3)
    f32 = np.ones((3, 2), np.float32)
    assert bmm(i, i.T).dtype == np.float64
    np.testing.assert_array_equal(bmm(i, i.T), (i @ i.T).astype(np.float64))
    assert bmm(f32.T, f32).dtype == np.float32
    assert bmm(i, f32).dtype == np.float64  # numpy.result_type(int64, float32)
    assert bmm(np.ones((2, 2), np.float16), np.ones((2, 2), np.float16)).dtype == np.float32
    assert bmm(np.ones((2, 2), np.float32), np.ones((2, 2), np.float64)).dtype == np.float64
    assert bmm([[1, 2]], [[3], [4]])[0, 0] == 11.0  # nested lists


def test_out_argument(dtype, rng):
    a = rng.standard_normal((3, 4, 5)).astype(dtype)
    b = rng.standard_normal((3, 5, 6)).astype(dtype)
    out = np.empty((3, 4, 6), dtype)
    assert bmm(a, b, out=out) is out
    assert_matches(out, a, b)
    strided = np.zeros((3, 6, 4), dtype).transpose(0, 2, 1)  # a non-contiguous out
    assert bmm(a, b, out=strided) is strided
    assert_matches(strided, a, b)


def test_out_may_overlap_inputs(rng):
    a = rng.standard_normal((3, 4, 4))
    b = rng.standard_normal((3, 4, 4))
    expected = bmm_reference(a, b)
    bmm(a, b, out=a)
    np.testing.assert_allclose(a, expected, rtol=1e-12, atol=1e-12)


def test_threads_give_identical_results(rng):
    a = rng.standard_normal((9, 40, 33))
    b = rng.standard_normal((9, 33, 50))
    old = optkern.set_num_threads(1)
    try:
        serial = bmm(a, b)
    finally:
        optkern.set_num_threads(old)
    np.testing.assert_array_equal(bmm(a, b), serial)


def test_nan_propagates_like_numpy():
    a = np.array([[np.nan, 1.0]])
    b = np.ones((2, 1))
    assert np.isnan(bmm(a, b)).all()


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        (np.ones((2, 3)), np.ones((4, 2)), r"^b: expected 3 rows"),
        (np.ones(3), np.ones((3, 2)), r"^a: expected an array with at least 2 dimensions"),
        (np.ones((3, 2)), np.ones(2), r"^b: expected an array with at least 2 dimensions"),
        (np.ones((2, 2), complex), np.ones((2, 2)), r"^a: expected a real array"),
        (np.ones((2, 2)), np.ones((2, 2), np.complex64), r"^b: expected a real array"),
        (np.ones((2, 3, 3)), np.ones((4, 3, 3)), r"^a, b: expected batch shapes that broadcast"),
        (np.array([["a"]]), np.ones((1, 1)), r"^a: expected an array of numbers"),
        (np.ones((2, 2), object), np.ones((2, 2)), r"^a: expected an array of numbers"),
    ],
)
def test_bad_input(a, b, message):
    with pytest.raises(ValueError, match=message):
        bmm(a, b)


def test_bad_out():
    a, b = np.ones((2, 3, 4)), np.ones((2, 4, 5))
    with pytest.raises(ValueError, match=r"^out: expected shape \(2, 3, 5\) and dtype float64"):
        bmm(a, b, out=np.empty((2, 3, 4)))
    with pytest.raises(ValueError, match=r"^out: expected shape \(2, 3, 5\) and dtype float64"):
        bmm(a, b, out=np.empty((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match=r"^out: expected a NumPy array"):
        bmm(a, b, out=[[0.0]])
    read_only = np.empty((2, 3, 5))
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match=r"^out: expected a writeable array"):
        bmm(a, b, out=read_only)


def test_bad_device():
    with pytest.raises(ValueError, match=r"^device: expected 'cpu', 'cuda' or 'auto'"):
        bmm(np.eye(2), np.eye(2), device="gpu")


def test_cuda_without_gpu_is_a_clear_error():
    if optkern.cuda_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(ValueError, match=r"^device: 'cuda' was requested"):
        bmm(np.eye(2), np.eye(2), device="cuda")
    assert bmm(np.eye(2), np.eye(2), device="auto").shape == (2, 2)  # auto falls back to CPU
