"""optkern.givens.factorize and jacobi against the brute-force references of
tests/reference/givens.py, their stopping rules, and their argument checks."""

import numpy as np
import pytest
from conftest import CONVERGED
from reference import givens as ref

import optkern
from optkern import givens
from optkern._backend import _core


def haar(d, rng, dtype=np.float64):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return (q * np.sign(np.diag(r))).astype(dtype)


def test_matrix(kind, d, rng, dtype=np.float64):
    """Random orthogonal (Haar) and planted inputs, dense and sparse."""
    if kind == "haar":
        return haar(d, rng, dtype)
    k = int(d * np.log2(d)) if kind == "planted" else d // 2
    return givens.planted(d, k, rng, dtype=dtype)


test_matrix.__test__ = False  # a helper, not a test


def collect(U, n, **kwargs):
    """The sequence and the decrease of every step."""
    steps = []
    seq = givens.factorize(U, n, callback=steps.append, **kwargs)
    return seq, np.array([s.decrease for s in steps])


def conditioned_prefix(decreases, l1, level=1e-9):
    """Steps whose decrease stands above rounding: a decrease near eps * ||V||_1 is known to a
    few digits only, and two such steps can rank differently in any two implementations (the
    tail of a run that has already converged to ~1e-9)."""
    small = np.flatnonzero(decreases < level * l1)
    return int(small[0]) if small.size else len(decreases)


# --- the angle search ----------------------------------------------------------------------


def random_block(d, rng, kind):
    a, b = rng.standard_normal(d), rng.standard_normal(d)
    if kind == "zeros":
        a[rng.random(d) < 0.3] = 0
        b[rng.random(d) < 0.3] = 0
    elif kind == "ties":  # |a| == |b| (a breakpoint at pi/4) and repeated columns
        b[::3] = np.where(rng.random(b[::3].shape) < 0.5, a[::3], -a[::3])
        a[1::4], b[1::4] = a[0], b[0]
    elif kind == "axes":  # every column on an axis: nothing to gain
        b[rng.random(d) < 0.5] = 0
        a[b != 0] = 0
    elif kind == "diagonal":  # columns at 45 degrees
        b = np.abs(a) * rng.choice([-1.0, 1.0], d)
    return a, b


@pytest.mark.parametrize("kind", ["dense", "zeros", "ties", "axes", "diagonal"])
@pytest.mark.parametrize("d", [1, 2, 3, 7, 33, 100])
def test_sweep_angle_equals_brute_force(dtype, rng, kind, d):
    for _ in range(10):
        a, b = (x.astype(dtype) for x in random_block(d, rng, kind))
        decrease, tangent = _core._testing.givens_best_l1_rotation(a, b)
        expected, alpha = ref.best_l1_rotation(a, b, dtype)
        scale = np.abs(a).sum() + np.abs(b).sum()
        assert abs(decrease - expected) <= 1e-12 * max(scale, 1)
        if kind == "axes":
            assert decrease == 0
        if expected > 1e-9 * scale:
            assert np.arctan(tangent) == pytest.approx(alpha, abs=1e-12)
            assert -np.pi / 4 < np.arctan(tangent) <= np.pi / 4


def test_sweep_on_a_rotated_identity():
    # The columns (cos, -sin) and (sin, cos) of this block sit 30 degrees below the axes;
    # turning them back is the best move: decrease 2 (cos 30 + sin 30) - 2 at +30 degrees.
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    a, b = np.array([c, s]), np.array([-s, c])
    decrease, tangent = _core._testing.givens_best_l1_rotation(a, b)
    assert decrease == pytest.approx(2 * (c + s) - 2, abs=1e-15)
    assert np.arctan(tangent) == pytest.approx(np.pi / 6, abs=1e-15)


# --- Algorithm 1 ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["haar", "planted", "sparse"])
@pytest.mark.parametrize("d", [16, 32, 48])
def test_l1_trajectory_equals_brute_force(dtype, rng, kind, d):
    U = test_matrix(kind, d, rng, dtype)
    seq, decreases = collect(U, 100)
    i, j, theta = ref.l1_coordinate_descent(U, 100)
    n = conditioned_prefix(decreases, np.abs(U).sum())
    if kind != "sparse":
        assert n == len(seq) == len(i) == 100, "a dense input stays well above rounding"
    assert n >= min(len(seq), d // 4)  # the recovery of the planted factors at least
    np.testing.assert_array_equal(seq.i[:n], i[:n])
    np.testing.assert_array_equal(seq.j[:n], j[:n])
    # An angle set by a column of norm r is known to about eps / r, and late steps that zero
    # small residuals may pick either of two breakpoints 1e-10 apart with the same L1 norm
    # (a residual column of norm 1e-16 can add a breakpoint anywhere); a different decision
    # would differ by far more than these tolerances.
    tol = CONVERGED[dtype]
    np.testing.assert_allclose(seq.theta[:n], theta[:n], rtol=0, atol=tol)
    mine = seq[:n].apply(U.astype(np.float64), transpose=True)
    theirs = ref.product(d, i[:n], j[:n], theta[:n]).T @ U
    assert np.abs(mine - theirs).max() <= tol
    assert seq.theta.dtype == dtype
    assert np.all(np.abs(seq.theta) <= np.pi / 4)


def test_l1_decreases_the_norm_by_the_recorded_amounts(rng):
    U = haar(40, rng)
    seq, decreases = collect(U, 150)
    V = seq.apply(U, transpose=True)  # G_N^T ... G_1^T U
    assert np.abs(U).sum() - decreases.sum() == pytest.approx(np.abs(V).sum(), abs=1e-10)
    assert np.all(np.diff(decreases[:50]) <= 1e-12) or decreases.min() > 0  # greedy, positive
    assert np.all(decreases > 0)


def test_l1_recovers_a_few_planted_rotations(rng):
    U, planted = givens.planted(64, 6, rng, return_sequence=True)
    seq = givens.factorize(U, 64 * 63 // 2)
    assert len(seq) < 200  # stops when nothing improves
    assert givens.symmetrized_frobenius(U, seq.to_dense()) < 1e-12


def test_l1_threads_take_the_same_steps(rng):
    U = haar(96, rng)
    old = optkern.set_num_threads(1)
    try:
        one = givens.factorize(U, 200)
        optkern.set_num_threads(2)
        two = givens.factorize(U, 200)
    finally:
        optkern.set_num_threads(old)
    np.testing.assert_array_equal(one.i, two.i)
    np.testing.assert_array_equal(one.j, two.j)
    np.testing.assert_array_equal(one.theta, two.theta)


def test_chunked_runs_take_the_same_steps(rng):
    # A callback makes the engine run in chunks; the steps must not depend on that.
    U = haar(70, rng)
    whole = givens.factorize(U, 300)
    chunked, _ = collect(U, 300)
    np.testing.assert_array_equal(whole.i, chunked.i)
    np.testing.assert_array_equal(whole.theta, chunked.theta)


# --- stopping rules --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["l1", "greedy", "elimination"])
def test_n_factors_bounds_the_sequence(rng, method):
    U = haar(12, rng)
    assert len(givens.factorize(U, 7, method=method)) == 7
    assert len(givens.factorize(U, 0, method=method)) == 0


@pytest.mark.parametrize("method", ["l1", "greedy"])
def test_nothing_to_do_on_a_signed_permutation(method):
    P = np.eye(6)[[2, 0, 1, 5, 3, 4]] * np.array([1, -1, 1, 1, -1, 1.0])
    target = np.eye(6) if method == "greedy" else P
    assert len(givens.factorize(target, 10, method=method)) == 0


def test_callback_stops_at_its_step(rng):
    U = haar(20, rng)
    seen = []

    def stop_at_five(step):
        seen.append(step)
        return step.index == 4

    seq = givens.factorize(U, 50, callback=stop_at_five)
    assert len(seq) == 5 and len(seen) == 5
    assert [s.index for s in seen] == list(range(5))
    assert (seen[3].i, seen[3].j) == seq[3][:2]
    assert seen[3].theta == pytest.approx(seq[3][2])


def test_progress_reports_on_stderr(rng, capsys):
    givens.factorize(haar(10, rng), 5, progress=True)
    err = capsys.readouterr().err
    assert "5/5" in err and "stopped: n_factors" in err  # a tqdm bar or the plain line


def test_default_budget_is_d_choose_2(rng):
    U = haar(6, rng)
    assert len(givens.factorize(U, method="elimination")) == 15
    assert len(givens.factorize(U, tol=0.0)) <= 15  # tol alone: d(d-1)/2 bounds the run


@pytest.mark.parametrize("method", ["l1", "greedy", "beam"])
def test_n_factors_or_tol_must_be_given(rng, method):
    U = haar(6, rng)
    with pytest.raises(ValueError, match="^n_factors: .*tol"):
        givens.factorize(U, method=method)
    with pytest.raises(ValueError, match="^n_factors:"):
        givens.factorize(np.stack([U, U]), method=method)
    assert len(givens.factorize(U, 4, method=method)) <= 4


# --- the baselines ---------------------------------------------------------------------------


@pytest.mark.parametrize("d", [2, 5, 16, 40])
def test_elimination_reproduces_U(rng, d):
    for det in (1, -1):
        U = haar(d, rng)
        if np.linalg.det(U) * det < 0:
            U[:, 0] *= -1
        seq = givens.factorize(U, method="elimination")
        assert len(seq) == d * (d - 1) // 2
        assert givens.symmetrized_frobenius(U, seq.to_dense()) <= 1e-10
        if det == 1:  # the sign fix: exact, no permutation needed
            assert np.abs(seq.to_dense() - U).max() <= 1e-12


def test_elimination_matches_reference(rng):
    U = haar(9, rng)
    seq = givens.factorize(U, method="elimination")
    steps, reduced = ref.elimination(U)
    assert [(a, b) for a, b, _ in steps] == list(zip(seq.i.tolist(), seq.j.tolist()))
    np.testing.assert_allclose(seq.theta, [t for _, _, t in steps], atol=1e-12)
    assert np.allclose(np.abs(np.diag(reduced)), 1)


def test_elimination_float32(rng):
    U = haar(30, rng, np.float32)
    seq = givens.factorize(U, method="elimination")
    assert seq.dtype == np.float32
    assert givens.symmetrized_frobenius(U, seq.to_dense()) < 1e-4


def test_greedy_matches_reference(rng):
    U = givens.planted(12, 30, rng)
    seq = givens.factorize(U, 60, method="greedy")
    steps = ref.frobenius_greedy(U, 60)
    n = min(len(steps), 40)
    assert list(zip(seq.i[:n].tolist(), seq.j[:n].tolist())) == [(a, b) for a, b, _ in steps[:n]]
    np.testing.assert_allclose(seq.theta[:n], [t for _, _, t in steps[:n]], atol=1e-10)
    # the trace only grows: ||V - I|| shrinks step by step
    V = seq.apply(U, transpose=True)
    assert np.trace(V) >= np.trace(U)


def test_jacobi_matches_reference(rng):
    A = givens.barabasi_albert(20, 5, rng)
    L = givens.laplacian(A)
    seq, lam = givens.jacobi(L, 80, return_eigenvalues=True)
    steps, rotated = ref.jacobi(L, 80)
    n = 60  # the pivot order is well separated early on
    assert list(zip(seq.i[:n].tolist(), seq.j[:n].tolist())) == [(a, b) for a, b, _ in steps[:n]]
    np.testing.assert_allclose(seq.theta[:n], [t for _, _, t in steps[:n]], atol=1e-10)
    V = seq.to_dense()
    off = V.T @ L @ V
    np.testing.assert_allclose(np.diag(off), lam, atol=1e-10)


def test_jacobi_converges_to_the_eigenbasis(rng):
    L = givens.laplacian(givens.barabasi_albert(24, 3, rng))
    seq, lam = givens.jacobi(L, 5000, return_eigenvalues=True)
    assert len(seq) < 5000  # stopped: every off-diagonal entry below eps ||L||
    np.testing.assert_allclose(np.sort(lam), np.linalg.eigvalsh(L), atol=1e-10)
    V = seq.to_dense()
    np.testing.assert_allclose(V @ np.diag(lam) @ V.T, L, atol=1e-10)


def test_jacobi_float32(rng):
    L = givens.laplacian(givens.barabasi_albert(16, 4, rng)).astype(np.float32)
    seq = givens.jacobi(L, 50)
    assert seq.dtype == np.float32 and len(seq) == 50


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("U", "kwargs", "message"),
    [
        (np.ones((3, 4)), {}, "^U: expected a square matrix"),
        (np.ones(3), {}, "^U: expected a 2-dimensional array"),
        (np.ones((2, 2, 2)), {}, "^U: expected an orthogonal matrix"),  # a stack of two
        (np.ones((1, 1)), {}, "^U: expected a matrix of size at least 2 x 2"),
        (np.ones((3, 3)), {}, "^U: expected an orthogonal matrix"),
        (np.array([[1.0, np.nan], [0, 1]]), {}, "^U: expected finite values"),
        (np.array([[1.0, np.inf], [0, 1]]), {"check": False}, "^U: expected finite values"),
        (np.eye(3) * (1 + 1j), {}, "^U: expected a real array"),
        (np.eye(3), {"n_factors": -1}, "^n_factors: expected an integer >= 0"),
        (np.eye(3), {"n_factors": 2.5}, "^n_factors: expected an integer"),
        (np.eye(3), {"method": "qr"}, "^method: expected 'l1', 'greedy', 'elimination' or 'beam'"),
        (np.eye(3), {"device": "tpu"}, "^device: expected 'cpu', 'cuda' or 'auto'"),
        (np.eye(3), {"callback": 3}, "^callback: expected a callable"),
        (np.eye(3), {"progress": "yes"}, "^progress: expected True or False"),
        (np.eye(3), {"check": None}, "^check: expected True or False"),
    ],
)
def test_factorize_rejects_bad_input(U, kwargs, message):
    with pytest.raises(ValueError, match=message):
        givens.factorize(U, **kwargs)


def test_orthogonality_tolerance_scales_with_dtype(rng):
    U = haar(20, rng)
    U[0, 0] += 1e-5  # fine for float32, not for float64
    with pytest.raises(ValueError, match="^U: expected an orthogonal matrix"):
        givens.factorize(U, 3)
    assert len(givens.factorize(U.astype(np.float32), 3)) == 3
    assert len(givens.factorize(U, 3, check=False)) == 3  # the escape for callers who know


def test_cuda_device_needs_cuda_or_l1(rng):
    U = haar(8, rng)
    if not optkern.cuda_available():
        with pytest.raises(ValueError, match="^device: 'cuda' was requested"):
            givens.factorize(U, 3, device="cuda")
    else:
        with pytest.raises(ValueError, match="^device: expected 'cpu' for method='greedy'"):
            givens.factorize(U, 3, method="greedy", device="cuda")


@pytest.mark.parametrize(
    ("L", "kwargs", "message"),
    [
        (np.array([[1.0, 2], [0, 1]]), {}, "^L: expected a symmetric matrix"),
        (np.ones((2, 3)), {}, "^L: expected a square matrix"),
        (np.array([[1.0, np.nan], [np.nan, 1]]), {}, "^L: expected finite values"),
        (np.eye(1), {}, "^L: expected a matrix of size at least 2 x 2"),
        (np.eye(3), {"n_factors": -2}, "^n_factors: expected an integer >= 0"),
        (np.eye(3), {"return_eigenvalues": 1}, "^return_eigenvalues: expected True or False"),
    ],
)
def test_jacobi_rejects_bad_input(L, kwargs, message):
    with pytest.raises(ValueError, match=message):
        givens.jacobi(L, **kwargs)


def test_integer_input_becomes_float64():
    seq = givens.factorize(np.eye(4, dtype=np.int64), 3)
    assert seq.dtype == np.float64 and len(seq) == 0
