"""Regression tests for the bugs the fuzz suites (tests/fuzz/test_fuzz_*.py) found: each one as
the smallest input that showed it."""

import re

import numpy as np
import pytest
from reference import givens as ref_givens
from reference.tv import tridiagonal_matrix

import optkern
from optkern import givens, linalg, ot, tv
from optkern.optimize import minimize, minimize_batch, problems

HUGE = np.finfo(np.float64).max


def unaligned(x):
    """x as a view of packed records: odd byte strides and a misaligned data pointer."""
    record = np.zeros(x.shape, dtype=[("pad", np.int8), ("v", x.dtype)])
    record["v"] = x
    return record["v"]


# --- dtypes and layouts ------------------------------------------------------------------


def test_misaligned_one_by_one_matrix():
    # ascontiguousarray keeps a misaligned (1, 1) view ("contiguous" with any strides)
    a = unaligned(np.array([[3.0]]))
    np.testing.assert_array_equal(linalg.bmm(a, np.ones((1, 2))), [[3.0, 3.0]])
    assert tv.denoise(unaligned(np.array([2.0])), 1.0).tolist() == [2.0]


@pytest.mark.parametrize("order", [">", "<"])
def test_byte_swapped_floats_are_accepted(order):
    # FITS files hold big-endian floats; the kernels got them with a non-native dtype
    native = np.arange(6.0).reshape(2, 3)
    x = native.astype(order + "f8")
    np.testing.assert_array_equal(linalg.bmm(x, x.T), native @ native.T)
    assert tv.denoise(x, 0.5).dtype == np.float64
    res = ot.sinkhorn(x.astype(order + "f4"), reg=1.0)
    assert res.plan.dtype == np.float32 and np.isfinite(res.plan).all()


def test_float_dtype_with_metadata():
    # equal to float64 in value, not in identity, which a binding compared
    M = np.ones((2, 2), dtype=np.dtype(np.float64, metadata={"unit": "m"}))
    assert ot.sinkhorn(M, reg=1.0).plan.dtype == np.float64


@pytest.mark.parametrize("call", [
    lambda x: tv.lambda_max(x),
    lambda x: givens.symmetrized_frobenius(x.reshape(1, 2), np.ones((1, 2))),
])
def test_complex_input_is_rejected_where_a_dtype_is_given(call):
    # as_float_array(x, name, float64) used to cast complex to real, dropping the imaginary
    # part with only a warning
    with pytest.raises(ValueError, match=r"^(x|U): expected a real array"):
        call(np.array([1 + 1j, 2]))


# --- values at the edges of the floating-point range -----------------------------------


def test_tridiagonal_subnormal_pivot():
    # 1 / 1.3e-311 is Inf, and 0 * Inf made x NaN
    x = linalg.tridiagonal_solve(np.ones(1), np.array([1.3e-311]), np.ones(1), np.zeros(1))
    assert x.tolist() == [0.0]


def test_tridiagonal_badly_scaled_rows():
    # rows of 1e299 next to rows of 1: Thomas' eliminated right-hand side overflowed
    lower = np.array([1.26e299, -1.32e299, 6.40e299, 1.05e299])
    diag = np.array([0.35, 0.82, 0.33, -1.30])
    upper = np.array([1.0, 0.0, 1.0, 1.0])
    rhs = np.array([0.13, -0.13, 0.64, 0.10])
    x = linalg.tridiagonal_solve(lower, diag, upper, rhs)
    assert np.isfinite(x).all()
    a = tridiagonal_matrix(lower, diag, upper)
    assert np.all(np.abs(a @ x - rhs) <= 1e-14 * (np.abs(a) @ np.abs(x) + np.abs(rhs)))


def test_tridiagonal_singular_to_working_precision():
    # the solution overflows into Inf - Inf: an error, not NaN
    with pytest.raises(np.linalg.LinAlgError, match="^diag: "):
        linalg.tridiagonal_solve(np.array([0.0, -0.13, 0.64]),
                                 np.array([1.26e-311, -1.32e-311, 6.4e-311]),
                                 np.array([0.13, -0.13, 0.0]), np.array([0.35, 0.82, 0.33]))


def test_denoise_lambda_far_above_the_signal():
    # x_k + lam rounded x_k away: [1e-300, 3e-300] with lam = 1 gave 0, not the mean
    np.testing.assert_allclose(tv.denoise(np.array([1e-300, 3e-300]), 1.0), [2e-300] * 2)
    x = np.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(tv.denoise(x, 1e300), np.full(3, x.mean()), rtol=1e-15)


def test_lambda_max_near_the_largest_double():
    assert tv.lambda_max(np.array([HUGE, HUGE, HUGE])) == 0.0
    assert tv.lambda_max(np.array([HUGE, -HUGE])) == HUGE
    assert tv.lambda_max(np.array([1.0, 3.0])) == 1.0


def test_symmetrized_frobenius_at_the_edges():
    # |V^T U| overflowed into a matrix that linear_sum_assignment refuses; the norm of
    # subnormal entries underflowed to 0
    U = np.array([[1e300, 1.0], [2.0, -1e300]])
    assert givens.symmetrized_frobenius(U, -U[:, ::-1]) == 0.0
    np.testing.assert_allclose(givens.symmetrized_frobenius(U, np.zeros((2, 2))),
                               np.sqrt(2) * 1e300)
    assert givens.symmetrized_frobenius(np.zeros((1, 1)), np.full((1, 1), 1e-311)) == 1e-311


def test_sinkhorn_inputs_are_finite_in_the_dtype_of_the_run():
    # float64 weights or gradients of 1e300 become Inf in a float32 run
    M = np.ones((2, 2), np.float32)
    with pytest.raises(ValueError, match="^a: expected finite values"):
        ot.sinkhorn(M, np.array([1e300, 1e300]), reg=1.0)
    P = ot.sinkhorn(M, reg=1.0).plan
    with pytest.raises(ValueError, match="^grad_P: expected finite values"):
        ot.sinkhorn_vjp(P, np.full((2, 2), 1e300), 1.0)


def test_float32_runs_check_their_options_in_float32():
    # alpha0 = 1e-300 is 0 in float32; the compiled check then said "must be > 0"
    with pytest.raises(ValueError, match="^alpha0: expected a value float32 can hold"):
        minimize(problems.rosenbrock(2), np.ones(2, np.float32), method="gd", alpha0=1e-300)


# --- integers too large for the kernels ----------------------------------------------


@pytest.mark.parametrize(("call", "name"), [
    (lambda: tv.denoise(np.ones(3), 0.1, method="irls", max_iter=1e300), "max_iter"),
    (lambda: minimize(problems.rosenbrock(2), np.ones(2), m=2**40), "m"),
    (lambda: minimize(problems.rosenbrock(2), np.ones(2), max_ls=2**40), "max_ls"),
    (lambda: minimize_batch(problems.rosenbrock(2), np.ones((2, 2)), num_threads=10**6),
     "num_threads"),
    (lambda: optkern.set_num_threads(100_000), "n"),
    (lambda: givens.factorize(np.eye(3), 1e300), "n_factors"),
    (lambda: givens.planted(2**40, 1), "d"),
    (lambda: problems.rosenbrock(10**30), "n"),
])
def test_huge_integers_are_named_errors(call, name):
    # they reached the bindings, which raised an unnamed TypeError (or OpenMP crashed
    # creating 100,000 threads)
    old = optkern.get_num_threads()
    try:
        with pytest.raises(ValueError, match=f"^{name}: expected an integer <="):
            call()
    finally:
        optkern.set_num_threads(old)


def test_set_num_threads_below_one_restores_the_default():
    old = optkern.get_num_threads()
    try:
        optkern.set_num_threads(-1e300)
        assert optkern.get_num_threads() >= 1
    finally:
        optkern.set_num_threads(old)


def test_absurd_problem_size_raises_memory_error():
    with pytest.raises(MemoryError):
        problems.rosenbrock(2**40).x0


# --- arguments that were not checked --------------------------------------------------


@pytest.mark.parametrize("rng", ["x", -1, 1.5])
def test_bad_seeds_are_named(rng):
    with pytest.raises(ValueError, match="^rng: "):
        givens.planted(4, 2, rng)
    with pytest.raises(ValueError, match="^rng: "):
        givens.barabasi_albert(5, 2, rng)


@pytest.mark.parametrize(("fields", "name"), [
    (("bogus", 3), "name"), (("extended_powell", 5), "n"), (("rosenbrock", 0), "n"),
    (("quadratic", 3, float("nan")), "parameter"), (("quadratic", 3, 0.5), "parameter"),
    (("rosenbrock", 3, 2.0), "parameter"),
])
def test_problems_built_directly_are_checked(fields, name):
    # Problem("bogus", 3) was accepted and failed with a KeyError when used; a NaN
    # condition number made NaN values
    with pytest.raises(ValueError, match=f"^{name}: "):
        problems.Problem(*fields)


# --- givens ----------------------------------------------------------------------------


def test_apply_to_matrices_without_columns():
    # reshape(-1, d, 0) cannot infer the batch size
    seq = givens.GivensSequence([0], [1], [0.3], dim=2)
    assert seq.apply(np.zeros((2, 0))).shape == (2, 0)
    assert seq.apply(np.zeros((3, 2, 0))).shape == (3, 2, 0)


def test_float32_angles_on_float64_matrices():
    # cos and sin were taken in float32, so the float64 result had float32 accuracy
    seq = givens.GivensSequence([0], [1], np.array([0.3], np.float32), dim=2)
    expected = ref_givens.product(2, [0], [1], [float(np.float32(0.3))])
    np.testing.assert_allclose(seq.apply(np.eye(2)), expected, rtol=0, atol=1e-15)


def test_jacobi_eigenvalues_match_a_sequence_cut_by_the_callback():
    # the engine runs ahead in chunks; its matrix included the steps after the cut
    a = np.random.default_rng(0).standard_normal((3, 3))
    L = a + a.T
    seq, lam = givens.jacobi(L, callback=lambda step: True, return_eigenvalues=True)
    assert len(seq) == 1
    V = seq.to_dense()
    np.testing.assert_allclose(lam, np.diag(V.T @ L @ V), atol=1e-14)


# --- the validation layer --------------------------------------------------------------


@pytest.mark.parametrize("dtype", [">f8", "<f8", np.dtype(np.float64, metadata={"a": 1})])
def test_compute_dtype_returns_the_canonical_dtype(dtype):
    from optkern import _validation

    assert _validation.compute_dtype(dtype, "x") is _validation.FLOAT64


def test_check_number_bounds_integers_by_int64():
    from optkern._validation import check_number

    assert check_number(2**63 - 1, "n", integer=True) == 2**63 - 1
    with pytest.raises(ValueError, match="^n: expected an integer <="):
        check_number(2**63, "n", integer=True)
    with pytest.raises(ValueError, match="^n: expected an integer >="):
        check_number(-(2**63) - 1, "n", integer=True)


def test_sinkhorn_with_subnormal_weights():
    # a_i / (K v)_i rounded to 0 for a_i = 5e-324: log u = -Inf made f Inf and NaN while
    # the run reported convergence; the log domain now takes over
    M = np.random.default_rng(0).standard_normal((4, 4))
    a = np.array([1.25, 0.78, 5e-324, 5e-324])
    for max_iter in (1, 10000):
        res = ot.sinkhorn(M, a, reg=1.0, max_iter=max_iter)
        assert np.isfinite(res.f).all() and np.isfinite(res.g).all() and np.isfinite(res.value)
        assert res.method == "log"


@pytest.mark.parametrize("mass", [1e307, 5e-324])
def test_sinkhorn_mass_out_of_range_is_named(mass):
    # a mass of 1e307 gave NaN potentials and values
    with pytest.raises(ValueError, match="^a: expected a total mass between"):
        ot.sinkhorn(np.ones((1, 2)), np.array([mass]), reg=1.0)


def test_sinkhorn_reg_too_small_is_named():
    # the gradients scale with 1/reg: rounding errors became Inf for reg = 5e-324
    for call in (lambda: ot.sinkhorn(np.zeros((2, 2)), reg=5e-324),
                 lambda: ot.sinkhorn_vjp(np.full((1, 1), 0.5), np.ones((1, 1)), 5e-324)):
        with pytest.raises(ValueError, match="^reg: expected a finite real number >= 1e-300"):
            call()


def test_vjps_of_gradients_near_the_largest_double():
    # linear in the incoming gradient: computed on it scaled by a power of two (its sums
    # overflowed into Inf - Inf = NaN)
    P = ot.sinkhorn(np.random.default_rng(1).random((2, 4)), reg=0.1).plan
    W = np.array([[HUGE, -HUGE, 1, 2], [0, HUGE, HUGE, -1e300]])
    for g in ot.sinkhorn_vjp(P, W, 0.1):
        assert not np.isnan(g).any()
    np.testing.assert_allclose(ot.sinkhorn_vjp(P, W, 0.1)[0] / 2**1000,
                               ot.sinkhorn_vjp(P, W / 2**1000, 0.1)[0], rtol=1e-14)
    y = tv.denoise(np.array([0.0, 0.0, 1.0, 1.0]), 0.1)
    grad_x, _ = tv.denoise_vjp(y, np.array([HUGE, HUGE, -HUGE, 1.0]), 0.1)
    np.testing.assert_array_equal(grad_x, [HUGE, HUGE, (1 - HUGE) / 2, (1 - HUGE) / 2])


def test_sinkhorn_vjp_of_a_huge_plan_and_a_huge_gradient():
    # the plan's scale 2^996 and the gradient's 2^993 multiplied to Inf, and 0 * Inf gave NaN
    # where grad_M is exactly 0 (one row: every column of grad_M sums to zero)
    grad_M, grad_a, grad_b = ot.sinkhorn_vjp(np.array([[0.0, 1e300]]),
                                             np.array([[1.26e299, -1.32e299]]), 1.0)
    np.testing.assert_array_equal(grad_M, [[0.0, 0.0]])
    assert np.isfinite(grad_a).all() and np.isfinite(grad_b[1])
    assert np.isnan(grad_b[0])  # a zero column's multiplier, as documented


def test_sinkhorn_cost_over_reg_beyond_double_precision_is_named():
    # max|M| / reg = 3.5e298 passed the old bound of 1e300: the plan was Inf and the value
    # NaN, since the exponents carry a rounding error of eps max|M| / reg
    message = re.escape("reg: expected a value with max|M| / reg below")
    with pytest.raises(ValueError, match=message):
        ot.sinkhorn(np.array([[3.5e299]]), reg=10.0)
    res = ot.sinkhorn(np.array([[3.5e14]]), reg=1.0)  # within the bound: the mass
    np.testing.assert_allclose(res.plan, [[1.0]], rtol=1e-6)


@pytest.mark.parametrize("content", ["text", "npy", "npz without fields"])
def test_load_names_the_path_of_a_file_it_did_not_write(tmp_path, content):
    # a text file raised NumPy's pickle ValueError, an .npy file a TypeError (an ndarray is
    # not a context manager)
    path = tmp_path / "file.npz"
    if content == "text":
        path.write_text("hello")
    elif content == "npy":
        with open(path, "wb") as f:
            np.save(f, np.ones(3))
    else:
        np.savez(path, a=1)
    with pytest.raises(ValueError, match="^path: expected an .npz file written by"):
        givens.GivensSequence.load(path)


def test_irls_at_the_ends_of_the_range():
    # x_k - x_{k+1} overflowed at -1.8e308 (NaN rows); a zero new iterate gave change = Inf
    x = np.array([[-1.79769313e308, -1.79769313e308, 1e300], [-5e-324, 5e-324, 0.0]])
    res = tv.denoise(x, 1.0, method="irls", max_iter=1, return_info=True)
    assert np.isfinite(res.y).all() and np.isfinite(res.change).all()
    np.testing.assert_allclose(res.y[0], tv.denoise(x[0], 1.0), rtol=0, atol=1e-12 * 1.7e308)
    # the solve of x / 2^k with lam / 2^k, scaled back, is the same iteration
    exact = tv.denoise(x[:1] / 2**1000, 1.0 / 2**1000, method="irls", max_iter=1) * 2**1000
    np.testing.assert_array_equal(res.y[:1], exact)
    np.testing.assert_array_equal(res.y[1], [0.0, 0.0, 0.0])  # the mean, to rounding
    assert res.change[1] == 1.0  # relative to the old iterate where the new one is 0
