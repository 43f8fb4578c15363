"""optkern.tv.denoise (exact and IRLS) against the NumPy reference and the optimality
certificate, on random, piecewise-constant, noisy and adversarial signals."""

import math

import numpy as np
import pytest
from conftest import EPS
from inputs import signal
from reference import tv as ref

import optkern
from optkern.tv import denoise, lambda_max

KINDS = ["noise", "walk", "blocks", "ties"]
FRACTIONS = [1e-3, 0.05, 0.3, 1.0, 2.0]  # of lambda_max


def assert_certificate(x, y, lam, tol):
    """|z_k| <= lam, z_n = 0 and z_k = lam sign(y_k - y_{k+1}) at jumps, z = cumsum(x - y),
    up to tol (in units of the signal's scale)."""
    scale = max(lam, np.abs(x).max(initial=0.0), 1e-300)
    bound, end, at_jumps = ref.certificate(x, y, lam)
    assert bound <= tol * scale, bound / scale
    assert end <= tol * scale, end / scale
    assert at_jumps <= tol * scale, at_jumps / scale


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fraction", FRACTIONS)
def test_exact_matches_reference_and_certificate(dtype, rng, kind, fraction):
    x = np.stack([signal(rng, n, kind) for n in [57] * 6]).astype(dtype)
    lam = fraction * max(lambda_max(x.astype(np.float64)).max(), 1e-3)
    y = denoise(x, lam)
    assert y.dtype == dtype
    assert y.shape == x.shape
    expected = ref.denoise(x, lam)
    scale = np.abs(x).max() + lam
    assert np.abs(y - expected).max() <= 64 * EPS[dtype] * scale
    if dtype == np.float64:
        for xi, yi in zip(x, y):
            assert_certificate(xi, yi, lam, 1e-13)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 17, 300])
def test_exact_certificate_float64_many_lengths(rng, n):
    for trial in range(20):
        x = signal(rng, n, KINDS[trial % 4])
        lam = FRACTIONS[trial % 5] * max(lambda_max(x), 1e-3)
        y = denoise(x, lam)
        assert_certificate(x, y, lam, 1e-13)
        assert np.abs(y - ref.taut_string(x, lam)).max() <= 1e-12 * (1 + np.abs(x).max())


@pytest.mark.parametrize("n", [2, 3, 4, 9, 64, 3000])
def test_small_lambda_where_nearly_every_sample_jumps(rng, n):
    # At small λ Condat's walk takes runs of one-sample segments in a loop of its own (the
    # direction of each jump picked without a branch): against the reference, with segments
    # of one sample mixed with longer ones, and steps of exactly ±2λ (integer signals, λ = 0.5),
    # where the walk's test is an equality and the run hands over to the general step.
    for trial in range(12):
        x = rng.standard_normal(n) if trial % 3 else rng.integers(-3, 4, n).astype(float)
        x[: n // 3] = np.round(x[: n // 3], 1 if trial % 2 else 0)  # some flat stretches
        lam = 0.5 if trial % 3 == 0 else float(rng.choice([1e-4, 1e-2, 0.1, 0.3]))
        y = denoise(x, lam)
        assert_certificate(x, y, lam, 1e-13)
        assert np.abs(y - ref.taut_string(x, lam)).max() <= 1e-12 * (1 + np.abs(x).max())
        np.testing.assert_array_equal(y, denoise(x[None], np.array([lam]))[0])


def test_float32_certificate_and_closeness_to_float64(rng):
    x = np.cumsum(rng.standard_normal((4, 400)), axis=-1)
    lam = 0.2 * lambda_max(x)
    y32 = denoise(x.astype(np.float32), lam)
    y64 = denoise(x.astype(np.float32).astype(np.float64), lam)
    assert np.abs(y32 - y64).max() <= 2 * EPS[np.float32] * np.abs(x).max()
    for xi, yi, li in zip(x.astype(np.float32), y32, lam):
        assert_certificate(xi.astype(np.float64), yi.astype(np.float64), li, 400 * 1e-7)


def test_offset_signals_keep_their_accuracy(rng):
    # An offset large against the variations: the solver sums x only along chain segments,
    # so the error stays near roundoff of the values (7e-8 here, 1e-13 relative), where a
    # taut string on global partial sums (proxTV's) loses 1.5e-5.
    x = 1e6 + np.cumsum(rng.standard_normal(200_000))
    lam = 50.0
    y = denoise(x, lam)
    shifted = denoise(x - 1e6, lam) + 1e6
    assert np.abs(y - shifted).max() <= 1e-12 * 1e6
    z = np.cumsum(x - y)
    assert np.abs(z).max() <= lam + 1e-12 * 1e6


def test_per_signal_lambda_and_broadcasting(rng):
    x = rng.standard_normal((3, 4, 30))
    lam = rng.uniform(0.0, 2.0, (3, 4))
    y = denoise(x, lam)
    np.testing.assert_allclose(y, ref.denoise(x, lam), atol=1e-12)
    # one lam per row of the first batch axis, broadcast over the second
    lam_rows = rng.uniform(0.1, 1.0, (3, 1))
    np.testing.assert_allclose(denoise(x, lam_rows), ref.denoise(x, np.broadcast_to(lam_rows,
                                                                                    (3, 4))),
                               atol=1e-12)
    # the keepdims form x.shape[:-1] + (1,)
    np.testing.assert_array_equal(denoise(x, lam[..., None]), y)


def test_zero_lambda_is_identity_and_n1(rng):
    x = rng.standard_normal((5, 40)).astype(np.float32)
    np.testing.assert_array_equal(denoise(x, 0.0), x)
    one = rng.standard_normal((7, 1))
    np.testing.assert_array_equal(denoise(one, 3.0), one)


def test_two_samples_closed_form():
    # y = (a - lam, b + lam) for a jump larger than 2 lam, the mean otherwise
    np.testing.assert_allclose(denoise(np.array([5.0, 1.0]), 1.0), [4.0, 2.0], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(denoise(np.array([5.0, 1.0]), 2.0), [3.0, 3.0])
    np.testing.assert_array_equal(denoise(np.array([5.0, 1.0]), 50.0), [3.0, 3.0])


def test_lambda_max_gives_the_mean(dtype, rng):
    x = rng.standard_normal((6, 50)).astype(dtype)
    lam = lambda_max(x.astype(np.float64))
    for factor in (1.0, 1.5, 1e6):
        y = denoise(x, lam * factor)
        np.testing.assert_allclose(y, np.broadcast_to(x.astype(np.float64).mean(-1,
                                                                                 keepdims=True),
                                                      x.shape),
                                   atol=8 * EPS[dtype] * np.abs(x).max())
        assert (np.diff(y, axis=-1) == 0).all()  # one exact value, no rounding jumps


def test_constant_input(dtype):
    x = np.full((3, 25), -2.5, dtype)
    np.testing.assert_array_equal(denoise(x, 0.7), x)


@pytest.mark.parametrize("power", [-500, -100, 100, 500])
def test_scale_equivariance_is_exact_for_powers_of_two(rng, power):
    x = np.cumsum(rng.standard_normal((3, 80)), axis=-1)
    lam = 0.1 * lambda_max(x)
    c = 2.0 ** power
    np.testing.assert_array_equal(denoise(x * c, lam * c), denoise(x, lam) * c)


def test_values_near_the_overflow_threshold(rng):
    x = rng.standard_normal(100)
    lam = 0.3 * lambda_max(x)
    c = 2.0 ** 1015  # partial sums of x * c overflow: the solver rescales
    y = denoise(x * c, lam * c)
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y / c, denoise(x, lam), rtol=1e-13, atol=1e-13)
    # alternating near-DBL_MAX values: the sums cancel, their magnitudes overflow
    alternating = np.resize([1.5e308, -1.5e308], 40) + 1e306 * rng.standard_normal(40)
    lam = 1e306
    y = denoise(alternating, lam)
    scaled = np.ldexp(denoise(np.ldexp(alternating, -1020), np.ldexp(lam, -1020)), 1020)
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y, scaled, rtol=1e-12, atol=1e-12 * 1.5e308)


@pytest.mark.parametrize("scale", [1e30, 1e-30])
def test_float32_huge_and_tiny_scales(rng, scale):
    x = (rng.standard_normal((2, 60)) * scale).astype(np.float32)
    lam = 0.1 * lambda_max(x.astype(np.float64))
    y = denoise(x, lam)
    assert np.isfinite(y).all()
    assert y.dtype == np.float32
    expected = ref.denoise(x, lam)
    assert np.abs(y - expected).max() <= 8 * EPS[np.float32] * np.abs(x).max()


def test_layouts_and_dtypes(rng):
    x = rng.standard_normal((30, 20))
    y = denoise(x, 0.5)
    np.testing.assert_array_equal(denoise(x.T.copy().T, 0.5), y)          # F-order
    np.testing.assert_array_equal(denoise(x[::2], 0.5), y[::2])            # strided
    ints = rng.integers(-5, 5, (4, 9))
    assert denoise(ints, 1.0).dtype == np.float64
    assert denoise(x.astype(np.float16), 0.5).dtype == np.float32
    assert denoise(np.empty((0, 5)), 1.0).shape == (0, 5)
    assert denoise(np.empty((3, 0)), 1.0).shape == (3, 0)
    assert denoise([1.0, 2.0, 3.0], 0.1).shape == (3,)


def test_threads_do_not_change_the_result(rng):
    x = rng.standard_normal((64, 100))
    old = optkern.set_num_threads(1)
    try:
        one = denoise(x, 0.3)
        irls_one = denoise(x, 0.3, method="irls", max_iter=50)
    finally:
        optkern.set_num_threads(old)
    optkern.set_num_threads(2)
    try:
        np.testing.assert_array_equal(denoise(x, 0.3), one)
        np.testing.assert_array_equal(denoise(x, 0.3, method="irls", max_iter=50), irls_one)
    finally:
        optkern.set_num_threads(old)


def test_lambda_max_matches_definition(rng):
    x = rng.standard_normal((3, 11))
    np.testing.assert_allclose(lambda_max(x), ref.lambda_max(x))
    assert float(lambda_max(np.array([1.0, 3.0]))) == 1.0
    assert float(lambda_max(np.array([4.0]))) == 0.0


# --- IRLS ------------------------------------------------------------------------------------


def test_irls_matches_the_notes_iteration(rng):
    x = signal(rng, 40, "blocks")
    for iterations in (1, 5, 30):
        r = denoise(x, 0.4, method="irls", tol=1e-300, max_iter=iterations, return_info=True)
        np.testing.assert_allclose(r.y, ref.irls(x, 0.4, iterations), atol=1e-10)
        assert r.nit == iterations
        assert not r.converged


def test_irls_approaches_the_exact_solution(rng):
    x = np.stack([signal(rng, 200, "blocks"), signal(rng, 200, "walk")])
    lam = np.array([0.5, 3.0])
    exact = denoise(x, lam)
    errors = []
    for iterations in (10, 100, 1000, 10000):
        y = denoise(x, lam, method="irls", tol=1e-300, max_iter=iterations)
        errors.append(np.abs(y - exact).max(axis=-1))
    errors = np.array(errors)
    assert (np.diff(errors, axis=0) < 0).all(), errors
    assert (errors[-1] < 1e-3).all(), errors


def test_irls_stops_at_tol_per_signal(rng):
    x = np.stack([signal(rng, 100, "blocks"), np.zeros(100), signal(rng, 100, "walk")])
    r = denoise(x, 0.2, method="irls", tol=1e-5, max_iter=5000, return_info=True)
    assert r.nit.shape == (3,)
    assert r.change.shape == (3,)
    assert r.converged.all()
    assert (r.change <= 1e-5).all()
    assert r.nit[1] == 1
    assert r.change[1] == 0
    assert len(set(r.nit.tolist())) > 1  # each signal stops on its own
    capped = denoise(x, 0.2, method="irls", tol=1e-12, max_iter=3, return_info=True)
    assert (capped.nit[[0, 2]] == 3).all()
    assert not capped.converged[[0, 2]].any()


def test_irls_float32_edges_and_info(rng):
    x = rng.standard_normal((2, 50)).astype(np.float32)
    r = denoise(x, 0.0, method="irls", return_info=True)
    np.testing.assert_array_equal(r.y, x)
    assert (r.nit == 0).all()
    assert r.method == "irls"
    assert r.y.dtype == np.float32
    y = denoise(x, 0.3, method="irls", tol=1e-7, max_iter=20000)
    assert np.abs(y - denoise(x, 0.3)).max() < 1e-2
    info = denoise(x, 0.3, return_info=True)
    assert info.method == "exact"
    assert (info.nit == 0).all()
    assert info.converged.all()


def test_irls_huge_lambda_gives_the_mean(rng):
    x = rng.standard_normal(30)
    y = denoise(x, 1e12, method="irls", tol=1e-14, max_iter=50)
    np.testing.assert_allclose(y, x.mean(), atol=1e-9)


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(lam=-1.0), "^lam:"),
        (dict(lam=np.nan), "^lam:"),
        (dict(lam=np.inf), "^lam:"),
        (dict(lam=np.ones(3)), "^lam:"),        # batch shape (4,)
        (dict(lam=np.ones((4, 2))), "^lam:"),
        (dict(lam=1j), "^lam:"),
        (dict(lam="a"), "^lam:"),
        (dict(method="newton"), "^method:"),
        (dict(method="irls", tol=0.0), "^tol:"),
        (dict(method="irls", tol=-1e-3), "^tol:"),
        (dict(method="irls", tol=np.nan), "^tol:"),
        (dict(method="irls", max_iter=0), "^max_iter:"),
        (dict(method="irls", max_iter=2.5), "^max_iter:"),
        (dict(device="tpu"), "^device:"),
    ],
)
def test_bad_arguments(kwargs, match):
    x = np.ones((4, 6))
    args = dict(lam=1.0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        denoise(x, **args)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_signals_are_rejected(bad):
    x = np.ones((2, 5))
    x[1, 3] = bad
    with pytest.raises(ValueError, match="^x:"):
        denoise(x, 1.0)


@pytest.mark.parametrize("dtype_", [np.float32, np.float64])
def test_fast_path_matches_the_general_path(rng, dtype_):
    # a C-contiguous float array with a Python float or int lam skips the Python checks (the
    # kernel checks for NaN/Inf): the same answers and errors as every other spelling
    x = np.cumsum(rng.standard_normal((3, 4, 50)), axis=-1).astype(dtype_)
    for lam in (0.3, 2, 0):
        y = denoise(x, lam)
        assert y.dtype == dtype_ and y.shape == x.shape
        np.testing.assert_array_equal(y, denoise(x, np.float64(lam)))
        np.testing.assert_array_equal(y, denoise(x, np.array(lam)))
        np.testing.assert_array_equal(y, denoise(np.asfortranarray(x), lam))
        np.testing.assert_array_equal(y[1, 2], denoise(x[1, 2], lam))
    for bad in (np.nan, np.inf, -np.inf):
        z = x.copy()
        z[2, 3, 49] = bad
        with pytest.raises(ValueError, match="^x: expected finite values, got NaN or Inf"):
            denoise(z, 0.5)
    for lam in (-1.0, math.inf, math.nan, 10**400, True):
        with pytest.raises(ValueError, match="^lam:"):
            denoise(x, lam)


def test_bad_signal_types():
    with pytest.raises(ValueError, match="^x:"):
        denoise(np.float64(3.0), 1.0)  # no signal axis
    with pytest.raises(ValueError, match="^x:"):
        denoise(np.ones(3, complex), 1.0)
    with pytest.raises(ValueError, match="^x:"):
        denoise(["a", "b"], 1.0)


def test_cuda_request_without_cuda_names_device():
    if optkern.cuda_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="^device:"):
        denoise(np.ones(3), 1.0, device="cuda")


def test_common_call_entry_hands_every_other_call_to_the_general_path(rng):
    # tv.denoise tries the kernel's own entry first (a native float32/float64 C-contiguous
    # aligned ndarray and a Python float or int lam); every other input gets None there and
    # the general path's answer, the same values and errors as before
    from optkern import _backend

    common = _backend._core.tv.denoise_common
    x = np.cumsum(rng.standard_normal((2, 40)), axis=-1)
    expected = denoise(x, np.float64(0.4))  # not a Python float: the general path
    np.testing.assert_array_equal(common(x, 0.4), expected)
    np.testing.assert_array_equal(common(x.astype(np.float32), 0.4),
                                  denoise(x.astype(np.float32), np.float64(0.4)))
    assert common(x, 0).dtype == np.float64
    swapped = x.astype(x.dtype.newbyteorder())
    raw = np.empty(x.size * 8 + 1, np.uint8)
    unaligned = raw[1:].view(np.float64).reshape(x.shape)
    unaligned[...] = x
    assert not unaligned.flags.aligned
    others = [x.tolist(), x[:, ::2], np.asfortranarray(x), swapped, unaligned,
              x.view(np.matrix), x.astype(np.float16), x.astype(np.longdouble),
              x.astype(np.int64), np.empty((2, 0)), np.empty((0, 5)), np.float64(3.0)]
    for other in others:
        assert common(other, 0.4) is None
        if other is not others[-1] and np.size(other):
            # a NumPy scalar lam takes the general path: the same result or the same error
            outcomes = []
            for lam in (0.4, np.float64(0.4)):
                try:
                    outcomes.append(denoise(other, lam))
                except ValueError as error:
                    outcomes.append(str(error))
            y, general = outcomes
            assert type(y) is type(general)
            if isinstance(y, str):
                assert y == general and y.startswith("x:")
            else:
                assert y.dtype == general.dtype
                np.testing.assert_array_equal(y, general)
                np.testing.assert_allclose(np.asarray(y, np.float64),
                                           denoise(np.array(other, np.float64), 0.4),
                                           rtol=1e-2 if y.dtype != np.float64 else 1e-12,
                                           atol=1e-2 if y.dtype != np.float64 else 1e-12)
    for lam in (np.float64(0.4), np.array(0.4), [0.4], True, -0.4, math.inf, math.nan,
                10**400, 0.4j, "0.4", None):
        assert common(x, lam) is None
    assert denoise(x, 10**20).shape == x.shape  # a large int lam: the mean, via the entry
    np.testing.assert_allclose(denoise(x, 10**20), np.broadcast_to(x.mean(-1, keepdims=True),
                                                                  x.shape), rtol=1e-12)
    # other keywords skip the entry and behave as before
    r = denoise(x, 0.4, return_info=True)
    np.testing.assert_array_equal(r.y, expected)
    np.testing.assert_array_equal(denoise(x, 0.4, device="auto"), expected)
    np.testing.assert_array_equal(denoise(x, 0.4, method=np.str_("exact")), expected)
    with pytest.raises(ValueError, match="^return_info:"):
        denoise(x, 0.4, return_info=0)
    with pytest.raises(ValueError, match="^stream:"):
        denoise(x, 0.4, stream=1)
    with pytest.raises(ValueError, match="^method:"):
        denoise(x, 0.4, method=np.str_("newton"))
