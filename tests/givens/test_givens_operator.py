"""GivensSequence as a fast transform (issue 17): the signed permutation, the linear operator,
stopping by tolerance."""

import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import CONVERGED, EXACT, PRODUCT

from optkern import givens
from optkern.givens import GivensSequence


def haar(d, rng, dtype=np.float64):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return (q * np.sign(np.diag(r))).astype(dtype)


def random_signed(d, n, rng, dtype=np.float64):
    i = rng.integers(0, d - 1, n)
    j = i + 1 + (rng.integers(0, 2**31, n) % (d - 1 - i))
    perm = rng.permutation(d)
    signs = rng.choice([-1, 1], d)
    return GivensSequence(i, j, rng.uniform(-np.pi, np.pi, n).astype(dtype), d, perm, signs)


def dense_reference(seq):
    """G_1 ... G_N P from the definition, in float64."""
    g = np.eye(seq.dim)
    for i, j, t in zip(seq.i, seq.j, seq.theta.astype(np.float64)):
        f = np.eye(seq.dim)
        f[i, i] = f[j, j] = np.cos(t)
        f[i, j], f[j, i] = np.sin(t), -np.sin(t)
        g = g @ f
    if seq.permutation is None:
        return g
    p = np.zeros((seq.dim, seq.dim))
    p[seq.permutation, np.arange(seq.dim)] = seq.signs
    return g @ p


# --- the signed permutation -------------------------------------------------------------------
@pytest.mark.parametrize("method", ["l1", "greedy", "elimination"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_factorization_approximates_u_directly(method, dtype, rng):
    d = 16
    U = haar(d, rng, dtype)
    seq = givens.factorize(U, d * (d - 1) // 2, method=method)
    assert seq.permutation is not None and sorted(seq.permutation) == list(range(d))
    assert set(np.unique(seq.signs)) <= {-1, 1}
    direct = np.linalg.norm(U.astype(np.float64) - seq.to_dense()) / math.sqrt(d)
    symmetrized = givens.symmetrized_frobenius(U, seq.rotations.to_dense(), normalize=True)
    tol = EXACT[dtype]
    assert direct == pytest.approx(symmetrized, abs=tol)
    if method == "elimination":
        assert direct < 100 * tol  # exact


def test_the_issues_example(rng):
    Q = haar(16, rng)
    seq = givens.factorize(Q, 120)
    direct = np.linalg.norm(Q - seq.to_dense()) / np.linalg.norm(Q)
    assert direct < 0.2  # was 1.37 without the permutation
    assert direct == pytest.approx(
        givens.symmetrized_frobenius(Q, seq.rotations.to_dense(), normalize=True), abs=1e-12)
    # truncations: the rotations alone, their own best permutation is the symmetrized error
    half = seq[: len(seq) // 2]
    assert half.permutation is None and len(half) == len(seq) // 2


def test_permutation_survives_save_and_load(tmp_path, rng):
    seq = givens.factorize(haar(12, rng, np.float32), 30)
    seq.save(tmp_path / "f.npz")
    back = GivensSequence.load(tmp_path / "f.npz")
    np.testing.assert_array_equal(back.permutation, seq.permutation)
    np.testing.assert_array_equal(back.signs, seq.signs)
    np.testing.assert_array_equal(back.to_dense(), seq.to_dense())
    assert back.dtype == np.float32


@pytest.mark.parametrize(("perm", "signs"), [([0, 0, 2], [1, 1, 1]), ([0, 1, 2], [1, 2, 1]),
                                             ([0, 1], [1, 1]), ([0, 1, 3], [1, 1, 1]),
                                             ([0, 1, 2], [1.0, 1.0, 1.0])])
def test_load_checks_the_permutation(tmp_path, perm, signs):
    np.savez(tmp_path / "f.npz", i=np.array([0]), j=np.array([1]), theta=np.array([0.1]),
             dim=np.int64(3), permutation=np.array(perm), signs=np.array(signs))
    with pytest.raises(ValueError, match="^path: expected an .npz file written by"):
        GivensSequence.load(tmp_path / "f.npz")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"permutation": [0, 1, 1]}, "^permutation, signs: expected both or neither"),
    ({"permutation": [0, 1, 1], "signs": [1, 1, 1]}, "^permutation: expected a permutation"),
    ({"permutation": [0, 1], "signs": [1, 1]}, "^permutation: expected a 1-dimensional array of 3"),
    ({"permutation": [0, 1, 2], "signs": [1, 0, 1]}, "^signs: expected 3 values, each"),
    ({"permutation": [0, 1, 2], "signs": [1, np.nan, 1]}, "^signs: expected finite"),
    ({"stopped_by": 3}, "^stopped_by: expected a str"),
])
def test_constructor_checks_the_permutation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GivensSequence([0], [1], [0.1], 3, **kwargs)


# --- a linear operator ------------------------------------------------------------------------
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_both_sides_on_vectors_and_batches(signed, dtype, rng):
    d = 9
    seq = random_signed(d, 40, rng, dtype)
    if not signed:
        seq = seq.rotations
    G = dense_reference(seq)
    tol = PRODUCT[dtype]
    for shape in [(d,), (d, 1), (d, 5), (3, d, 4), (2, 2, d, 3), (d, 0)]:
        X = rng.standard_normal(shape).astype(dtype)
        got = seq @ X
        assert got.shape == X.shape and got.dtype == dtype
        np.testing.assert_allclose(got, G @ X.astype(np.float64), atol=tol)
        np.testing.assert_allclose(seq.T @ X, G.T @ X.astype(np.float64), atol=tol)
    for shape in [(d,), (1, d), (5, d), (3, 4, d), (2, 2, 3, d), (0, d)]:
        X = rng.standard_normal(shape).astype(dtype)
        got = X @ seq
        assert got.shape == X.shape and got.dtype == dtype and got.flags.c_contiguous
        np.testing.assert_allclose(got, X.astype(np.float64) @ G, atol=tol)
        np.testing.assert_allclose(X @ seq.H, X.astype(np.float64) @ G.T, atol=tol)
    # lists work too (array_like)
    np.testing.assert_allclose(seq @ list(range(d)), G @ np.arange(d), atol=1e-4)


@pytest.mark.parametrize("signed", [False, True])
def test_transpose_is_the_inverse(signed, rng):
    seq = random_signed(7, 30, rng)
    if not signed:
        seq = seq.rotations
    G = seq.to_dense()
    np.testing.assert_allclose(seq.T.to_dense(), G.T, atol=1e-13)
    np.testing.assert_allclose(dense_reference(seq.T), G.T, atol=1e-13)
    assert seq.H is seq.T and len(seq.T) == len(seq)
    back = seq.T.T
    for name in ("i", "j", "theta", "permutation", "signs"):
        a, b = getattr(back, name), getattr(seq, name)
        assert (a is None and b is None) or np.array_equal(a, b)
    x = rng.standard_normal(7)
    np.testing.assert_allclose(seq.T @ (seq @ x), x, atol=1e-13)
    np.testing.assert_allclose(seq.apply(x, transpose=True), seq.T @ x, atol=1e-13)


def test_operator_rejects_bad_operands(rng):
    seq = random_signed(4, 5, rng)
    with pytest.raises(ValueError, match=r"^X: expected shape \(4,\) or \(\.\.\., 4, m\)"):
        seq @ np.ones((3, 4))
    with pytest.raises(ValueError, match=r"^X: expected shape \(4,\) or \(\.\.\., m, 4\) for X @"):
        np.ones((4, 3)) @ seq
    with pytest.raises(ValueError, match="^X: expected"):
        seq @ "abc"
    with pytest.raises(ValueError, match="^X: expected"):
        np.float64(2.0) @ seq
    with pytest.raises(TypeError):
        seq @ seq


def test_scipy_linear_operator(rng):
    sla = pytest.importorskip("scipy.sparse.linalg")
    for dtype in (np.float32, np.float64):
        seq = random_signed(8, 25, rng, dtype)
        G = seq.to_dense().astype(np.float64)
        A = sla.aslinearoperator(seq)
        assert A.shape == (8, 8) and A.dtype == dtype
        x = rng.standard_normal(8)
        X = rng.standard_normal((8, 3))
        tol = EXACT[dtype]
        np.testing.assert_allclose(A.matvec(x), G @ x, atol=tol)
        np.testing.assert_allclose(A.rmatvec(x), G.T @ x, atol=tol)
        np.testing.assert_allclose(A @ X, G @ X, atol=tol)
        np.testing.assert_allclose(A.T @ X, G.T @ X, atol=tol)
        np.testing.assert_allclose(A.H.matmat(X), G.T @ X, atol=tol)
        np.testing.assert_allclose(A.matvec(x[:, None]), G @ x[:, None], atol=tol)
        # an iterative solver through the operator: G x = b
        b = G @ x
        sol, info = sla.lsqr(A, b, atol=1e-12, btol=1e-12)[:2]
        np.testing.assert_allclose(sol, x, atol=10 * CONVERGED[dtype])  # lsqr's own stop


def test_operator_does_not_import_scipy():
    code = ("import sys, numpy as np\n"
            "from optkern.givens import GivensSequence\n"
            "s = GivensSequence([0, 1], [1, 2], [0.1, 0.2], 3, [2, 0, 1], [1, -1, 1])\n"
            "y = s @ np.ones(3); z = np.ones((2, 3)) @ s; t = s.T.to_dense(); s.matvec(y)\n"
            "s.layers() if hasattr(s, 'layers') else None\n"
            "print('scipy' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# --- stopping by tolerance --------------------------------------------------------------------
def _error(U, seq):
    return np.linalg.norm(U.astype(np.float64) - seq.to_dense()) / math.sqrt(U.shape[0])


@pytest.mark.parametrize("method", ["l1", "greedy", "elimination"])
@pytest.mark.parametrize("tol", [0.5, 0.2, 0.05])
def test_tol_stops_at_the_first_step_that_meets_it(method, tol, rng):
    U = givens.planted(24, 60, rng)
    seq = givens.factorize(U, tol=tol, method=method)
    if seq.stopped_by == "tol":
        assert _error(U, seq) <= tol
        # one step fewer does not meet tol (the error of these runs decreases monotonically)
        shorter = givens.factorize(U, len(seq) - 1, method=method) if len(seq) else None
        if shorter is not None:
            assert _error(U, shorter) > tol
        # the same factors as a run of that length
        same = givens.factorize(U, len(seq), method=method)
        np.testing.assert_array_equal(same.theta, seq.theta)
        np.testing.assert_array_equal(same.permutation, seq.permutation)
    else:
        assert seq.stopped_by == "converged" and _error(U, seq) > tol


def test_stop_reasons(rng):
    U = givens.planted(16, 10, rng)
    assert givens.factorize(U, 3).stopped_by == "n_factors"
    assert givens.factorize(U, 120).stopped_by == "converged"
    assert givens.factorize(U, 50, callback=lambda s: s.index == 1).stopped_by == "callback"
    easy = givens.factorize(U, 3, tol=1e-9)
    assert easy.stopped_by == "n_factors" and len(easy) == 3
    none = givens.factorize(U, 40, tol=10.0)
    assert len(none) == 0 and none.stopped_by == "tol"
    assert _error(U, none) <= 10.0
    seen = []
    cut = givens.factorize(U, 40, tol=0.3, callback=seen.append)
    assert cut.stopped_by == "tol" and len(seen) == len(cut)
    assert givens.factorize(U, method="elimination").stopped_by in ("converged", "n_factors")
    assert givens.jacobi(U + U.T, 5).stopped_by == "n_factors"


@pytest.mark.parametrize("tol", [-1.0, np.nan, np.inf, "0.1", True, 10**400])
def test_tol_is_checked(tol):
    with pytest.raises(ValueError, match="^tol: expected"):
        givens.factorize(np.eye(3), tol=tol)


# --- properties over random sequences -----------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(d=st.integers(1, 12), n=st.integers(0, 40), signed=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]), cols=st.integers(0, 4),
       seed=st.integers(0, 2**32 - 1))
def test_operator_properties(d, n, signed, dtype, cols, seed):
    rng = np.random.default_rng(seed)
    if d == 1:
        n = 0
    seq = random_signed(d, n, rng, dtype) if n else GivensSequence(
        [], [], np.zeros(0, dtype), d, rng.permutation(d), rng.choice([-1, 1], d))
    if not signed:
        seq = seq.rotations
    G = dense_reference(seq)
    tol = EXACT[dtype]
    np.testing.assert_allclose(seq.to_dense(), G, atol=tol)
    np.testing.assert_allclose(seq.T.to_dense(), G.T, atol=tol)
    X = rng.standard_normal((d, cols)).astype(dtype)
    np.testing.assert_allclose(seq @ X, G @ X, atol=tol)
    np.testing.assert_allclose(X.T @ seq, X.T @ G, atol=tol)
    order = np.concatenate(seq.layers()) if n else np.zeros(0, np.int64)
    again = GivensSequence(seq.i[order], seq.j[order], seq.theta[order], d, seq.permutation,
                           seq.signs)
    np.testing.assert_allclose(again.to_dense(), G, atol=tol)
