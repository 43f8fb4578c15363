"""The shared validation module: one behaviour for every kernel."""

import numpy as np
import pytest

from optkern import _validation as v


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (np.float32, np.float32),
        (np.float64, np.float64),
        (np.float16, np.float32),
        (np.int8, np.float64),
        (np.int64, np.float64),
        (np.uint32, np.float64),
        (np.bool_, np.float64),
    ],
)
def test_dtype_policy(given, expected):
    assert v.compute_dtype(given, "x") == np.dtype(expected)


@pytest.mark.parametrize("bad", [np.complex64, np.complex128, object, "U3", np.longdouble])
def test_dtype_policy_rejects(bad):
    if np.dtype(bad) == np.float64:  # long double is double on some platforms
        pytest.skip("long double is float64 here")
    with pytest.raises(ValueError, match="^x: expected"):
        v.compute_dtype(bad, "x")


def test_result_dtype_follows_numpy_then_policy():
    assert v.result_dtype((np.float32, "a"), (np.float32, "b")) == np.float32
    assert v.result_dtype((np.float32, "a"), (np.float64, "b")) == np.float64
    assert v.result_dtype((np.float32, "a"), (np.int64, "b")) == np.float64
    with pytest.raises(ValueError, match="^b:"):
        v.result_dtype((np.float32, "a"), (np.complex64, "b"))


def test_as_float_array_makes_contiguous_and_keeps_float32():
    x = np.arange(12, dtype=np.float32).reshape(3, 4).T
    y = v.as_float_array(x, "x")
    assert y.flags.c_contiguous and y.dtype == np.float32
    np.testing.assert_array_equal(y, x)
    z = np.ascontiguousarray(x)
    assert v.as_float_array(z, "x") is z  # no copy when nothing needs changing


def test_as_float_array_checks():
    with pytest.raises(ValueError, match="^x: expected finite values"):
        v.as_float_array([1.0, np.nan], "x")
    with pytest.raises(ValueError, match="^x: expected finite values"):
        v.as_float_array([1.0, np.inf], "x")
    assert np.isnan(v.as_float_array([np.nan], "x", finite=False)).all()
    with pytest.raises(ValueError, match="^x: expected a 2-dimensional array"):
        v.as_float_array([1.0], "x", ndim=2)
    with pytest.raises(ValueError, match="^x: expected an array with at least 2 dimensions"):
        v.as_float_array([1.0], "x", min_ndim=2)
    with pytest.raises(ValueError, match="^x: expected an array of numbers"):
        v.as_float_array(["a", "b"], "x")
    with pytest.raises(ValueError, match="^x: expected an array of numbers"):
        v.as_float_array([[1.0], [1.0, 2.0]], "x")  # ragged


def test_device_checks():
    assert v.check_device("cpu") == "cpu"
    for bad in ("gpu", "CUDA", None, 0):
        with pytest.raises(ValueError, match="^device: expected 'cpu', 'cuda' or 'auto'"):
            v.check_device(bad)
    assert v.resolve_device("auto", [(np.zeros(2), "x")]) == "cpu"
    assert v.resolve_device("cpu", [(np.zeros(2), "x")]) == "cpu"


def test_device_cuda_without_gpu_is_a_clear_error():
    import optkern

    if optkern.cuda_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(ValueError, match="^device: 'cuda' was requested but CUDA is not"):
        v.resolve_device("cuda", [(np.zeros(2), "x")])


def test_broadcast_batch_names_arguments():
    assert v.broadcast_batch([((2, 1), "a"), ((3,), "b")]) == (2, 3)
    with pytest.raises(ValueError, match=r"^a, b: expected batch shapes that broadcast"):
        v.broadcast_batch([((2,), "a"), ((3,), "b")])


def test_check_number():
    assert v.check_number(3, "n", integer=True, low=1) == 3
    assert v.check_number(np.float32(0.5), "reg", low=0, low_open=True) == 0.5
    assert v.check_number(2.0, "n", integer=True) == 2
    cases = [
        (dict(value=0.0, low=0, low_open=True), "reg: expected a finite real number > 0"),
        (dict(value=-1.0, low=0), "reg: expected a finite real number >= 0"),
        (dict(value=float("nan")), "reg: expected a finite real number"),
        (dict(value=float("inf")), "reg: expected a finite real number"),
        (dict(value="1"), "reg: expected a finite real number"),
        (dict(value=True), "reg: expected a finite real number"),
        (dict(value=2.5, integer=True), "reg: expected an integer"),
        (dict(value=5, high=4), "reg: expected a finite real number <= 4"),
    ]
    for kwargs, message in cases:
        value = kwargs.pop("value")
        with pytest.raises(ValueError, match="^" + message):
            v.check_number(value, "reg", **kwargs)


def test_gpu_detection_of_host_objects():
    assert not v.is_gpu_array(np.zeros(3))
    assert not v.is_gpu_array([1, 2])

    class FakeCuda:
        def __dlpack_device__(self):
            return (2, 0)

    assert v.is_gpu_array(FakeCuda())
    with pytest.raises(ValueError, match="^x: expected a host"):
        v.as_array(FakeCuda(), "x")
    with pytest.raises(ValueError, match="^x: expected a host array for device='cpu'"):
        v.resolve_device("cpu", [(FakeCuda(), "x")])


def test_dlpack_parsing_on_host_arrays():
    """The DLPack reader used for GPU arrays, checked on NumPy's own (CPU) capsules."""
    from optkern import _gpu

    base = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for x in (base, base[:, ::2, 1:], base.transpose(2, 0, 1)):
        view = _gpu.dlpack_view(x, "x")
        assert view.shape == x.shape
        assert view.strides == tuple(s // x.itemsize for s in x.strides)
        assert view.dtype == np.float32
        assert view.ptr == x.__array_interface__["data"][0]
        assert view.device_type == 1  # kDLCPU
    assert _gpu.dlpack_view(np.zeros(3, np.int16), "x").dtype == np.int16
    with pytest.raises(ValueError, match="^x: expected an array that exports DLPack"):
        _gpu.dlpack_view([1, 2], "x")


def test_device_overlap_ranges():
    from optkern import _gpu

    base = np.zeros((4, 4))
    whole = _gpu.dlpack_view(base, "x")
    top = _gpu.dlpack_view(base[:2], "x")
    bottom = _gpu.dlpack_view(base[2:], "x")
    assert _gpu.overlaps(whole, top) and _gpu.overlaps(top, whole)
    assert not _gpu.overlaps(top, bottom)
    reversed_rows = _gpu.dlpack_view(base[::-1], "x")
    assert _gpu.overlaps(reversed_rows, top)


class _TorchLikeStream:  # the attribute torch.cuda.Stream carries its handle in
    cuda_stream = 7


class _CupyLikeStream:  # ... and cupy.cuda.Stream
    ptr = 9


def test_check_stream():
    assert v.check_stream(None) is None
    assert v.check_stream(0) == 0 and v.check_stream(np.uint64(2**63)) == 2**63
    assert v.check_stream(_TorchLikeStream()) == 7 and v.check_stream(_CupyLikeStream()) == 9
    for bad in (-1, 2**64, True, 1.5, "0", [0], object()):
        with pytest.raises(ValueError, match="^stream: expected None, a CUDA stream handle"):
            v.check_stream(bad)


def test_a_stream_is_refused_on_the_cpu():
    # every public function with a CUDA path takes stream=, and names it when run on the CPU
    from optkern import givens, linalg, ot, tv
    from optkern.optimize import minimize_batch, problems

    x, ones = np.ones((2, 2)), np.ones(3)
    calls = [
        lambda s: linalg.bmm(x, x, stream=s),
        lambda s: linalg.bmm(x, x, device="auto", stream=s),
        lambda s: linalg.tridiagonal_solve(ones, 2 * ones, ones, ones, stream=s),
        lambda s: tv.denoise(ones, 1.0, stream=s),
        lambda s: tv.denoise_vjp(ones, ones, 1.0, stream=s),
        lambda s: ot.sinkhorn(x, reg=1.0, stream=s),
        lambda s: ot.sinkhorn_cost(x, reg=1.0, stream=s),
        lambda s: givens.factorize(np.eye(4), 6, stream=s),
        lambda s: minimize_batch(problems.rosenbrock(2), x, stream=s),
    ]
    for call in calls:
        with pytest.raises(ValueError,
                           match="^stream: expected None when the call runs on the CPU"):
            call(0)
        with pytest.raises(ValueError, match="^stream: expected None, a CUDA stream handle"):
            call("default")
        call(None)  # the default runs


def test_use_stream_overrides_the_producer_stream_in_its_block_only():
    from optkern import _gpu

    host = np.ones(2)
    assert _gpu.current_stream(host) == 0
    with _gpu.use_stream(42):
        assert _gpu.current_stream(host) == 42
        with _gpu.use_stream(None):  # no stream= given: the producer's
            assert _gpu.current_stream(host) == 0
    assert _gpu.current_stream(host) == 0
