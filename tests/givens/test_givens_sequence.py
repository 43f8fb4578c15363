"""GivensSequence, planted matrices, the symmetrized Frobenius error, Barabasi-Albert graphs and
Laplacians."""

import numpy as np
import pytest
from conftest import EXACT, ORTHOGONAL
from reference import givens as ref

from optkern import givens
from optkern.givens import GivensSequence


def random_sequence(d, n, rng, dtype=np.float64):
    a = rng.integers(0, d, n)
    b = (a + 1 + rng.integers(0, d - 1, n)) % d
    return GivensSequence(np.minimum(a, b), np.maximum(a, b),
                          rng.uniform(-np.pi, np.pi, n).astype(dtype), d)


# --- GivensSequence --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(7,), (7, 1), (7, 5), (3, 7, 4), (2, 2, 7, 130)])
def test_apply_equals_dense_product(dtype, rng, shape):
    seq = random_sequence(7, 40, rng, dtype)
    X = rng.standard_normal(shape).astype(dtype)
    G = ref.product(7, seq.i, seq.j, seq.theta)
    tol = EXACT[dtype]
    for transpose, M in ((False, G), (True, G.T)):
        Y = seq.apply(X, transpose=transpose)
        assert Y.shape == X.shape and Y.dtype == dtype
        np.testing.assert_allclose(Y, M @ X, atol=tol)
        np.testing.assert_allclose(seq.to_dense() @ X if not transpose else seq.to_dense().T @ X,
                                   Y, atol=tol)


def test_apply_does_not_touch_its_input(rng):
    seq = random_sequence(5, 10, rng)
    X = rng.standard_normal((5, 3))
    before = X.copy()
    seq.apply(X)
    np.testing.assert_array_equal(X, before)


def test_apply_on_views_and_large_batches(rng):
    seq = random_sequence(64, 500, rng)
    X = rng.standard_normal((64, 2000))[:, ::2]  # strided view, 1000 columns, threads
    np.testing.assert_allclose(seq.apply(X), seq.to_dense() @ X, atol=1e-11)
    back = seq.apply(seq.apply(X), transpose=True)
    np.testing.assert_allclose(back, X, atol=1e-11)


def test_apply_dtype_policy(rng):
    seq32 = random_sequence(4, 6, rng, np.float32)
    assert seq32.apply(np.ones(4, np.float32)).dtype == np.float32
    assert seq32.apply(np.ones(4)).dtype == np.float64
    assert seq32.apply(np.arange(4)).dtype == np.float64
    seq64 = random_sequence(4, 6, rng)
    assert seq64.apply(np.ones(4, np.float32)).dtype == np.float64


def test_to_dense_is_orthogonal_and_matches_reference(dtype, rng):
    seq = random_sequence(9, 30, rng, dtype)
    G = seq.to_dense()
    assert G.dtype == dtype
    tol = ORTHOGONAL[dtype]
    np.testing.assert_allclose(G, ref.product(9, seq.i, seq.j, seq.theta), atol=tol)
    np.testing.assert_allclose(G @ G.T, np.eye(9), atol=tol)


def test_slicing_gives_sub_products(rng):
    seq = random_sequence(6, 20, rng)
    assert len(seq[:7]) == 7 and len(seq[5:]) == 15 and len(seq[:0]) == 0
    np.testing.assert_allclose(seq[:7].to_dense() @ seq[7:].to_dense(), seq.to_dense(),
                               atol=1e-13)
    np.testing.assert_allclose(seq[3:9].to_dense(), ref.product(6, seq.i[3:9], seq.j[3:9],
                                                                seq.theta[3:9]), atol=1e-13)
    assert seq[:0].to_dense().tolist() == np.eye(6).tolist()
    i, j, theta = seq[4]
    assert (i, j, theta) == (int(seq.i[4]), int(seq.j[4]), float(seq.theta[4]))
    assert list(seq)[4] == seq[4] and seq[-1] == seq[19]
    with pytest.raises(ValueError, match="^key: expected a slice with step 1"):
        seq[::2]
    with pytest.raises(TypeError):
        seq["a"]


def test_sequences_are_immutable(rng):
    i = np.array([0, 1])
    seq = GivensSequence(i, [2, 2], [0.1, 0.2], 3)
    i[0] = 1  # the caller's array is not shared
    assert seq.i[0] == 0
    with pytest.raises(ValueError):
        seq.theta[0] = 1.0
    with pytest.raises(AttributeError):
        seq.dim = 4
    assert repr(seq) == "GivensSequence(dim=3, factors=2, dtype=float64)"


def test_save_and_load_round_trip(tmp_path, dtype, rng):
    seq = random_sequence(11, 25, rng, dtype)
    path = tmp_path / "factors.npz"
    seq.save(path)
    back = GivensSequence.load(path)
    assert back.dim == 11 and back.dtype == dtype
    np.testing.assert_array_equal(back.i, seq.i)
    np.testing.assert_array_equal(back.j, seq.j)
    np.testing.assert_array_equal(back.theta, seq.theta)
    np.savez(tmp_path / "other.npz", x=np.ones(2))
    with pytest.raises(ValueError, match="^path: expected an .npz file written by"):
        GivensSequence.load(tmp_path / "other.npz")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([0], [0], [0.1], 3), "^i, j: expected rows with 0 <= i < j < dim = 3"),
        (([1], [0], [0.1], 3), "^i, j: expected rows with 0 <= i < j"),
        (([0], [3], [0.1], 3), "^i, j: expected rows with 0 <= i < j < dim = 3"),
        (([-1], [1], [0.1], 3), "^i, j: expected rows with 0 <= i < j"),
        (([0, 1], [2], [0.1], 3), "^i: expected a 1-dimensional array of 1 indices"),
        (([0.5], [1], [0.1], 3), "^i: expected integer indices"),
        (([0], [1], [np.nan], 3), "^theta: expected finite values"),
        (([0], [1], [[0.1]], 3), "^theta: expected a 1-dimensional array"),
        (([0], [1], [0.1], 0), "^dim: expected a positive integer"),
        (([0], [1], [0.1], 2.0), "^dim: expected a positive integer"),
    ],
)
def test_sequence_rejects_bad_factors(args, message):
    with pytest.raises(ValueError, match=message):
        GivensSequence(*args)


def test_apply_rejects_bad_input(rng):
    seq = random_sequence(4, 3, rng)
    with pytest.raises(ValueError, match=r"^X: expected shape \(4,\) or \(\.\.\., 4, m\)"):
        seq.apply(np.ones((3, 4)))
    with pytest.raises(ValueError, match="^X: expected shape"):
        seq.apply(np.float64(1.0))
    with pytest.raises(ValueError, match="^transpose: expected a bool"):
        seq.apply(np.ones(4), transpose="yes")
    with pytest.raises(ValueError, match="^X: expected a real"):
        seq.apply(np.ones(4) * 1j)


# --- planted ---------------------------------------------------------------------------------


def test_planted_is_the_product_of_its_factors(dtype, rng):
    U, seq = givens.planted(20, 60, rng, dtype=dtype, return_sequence=True)
    assert U.dtype == dtype and seq.dtype == dtype and len(seq) == 60
    tol = ORTHOGONAL[dtype]
    np.testing.assert_allclose(U, ref.product(20, seq.i, seq.j, seq.theta), atol=tol)
    np.testing.assert_allclose(U @ U.T, np.eye(20), atol=tol)
    assert np.all(seq.i < seq.j) and np.all((0 <= seq.theta) & (seq.theta < 2 * np.pi))


def test_planted_draws_planes_uniformly():
    _, seq = givens.planted(5, 20000, np.random.default_rng(3), return_sequence=True)
    counts = np.zeros((5, 5))
    np.add.at(counts, (seq.i, seq.j), 1)
    planes = counts[np.triu_indices(5, 1)]
    assert planes.min() > 0.9 * 2000 and planes.max() < 1.1 * 2000  # 10 planes, 2000 each


def test_planted_is_reproducible_and_accepts_seeds():
    a = givens.planted(8, 30, np.random.default_rng(7))
    b = givens.planted(8, 30, 7)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(givens.planted(8, 0, 1), np.eye(8))


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((1, 3), {}, "^d: expected an integer >= 2"),
        ((4, -1), {}, "^k: expected an integer >= 0"),
        ((4, 1.5), {}, "^k: expected an integer"),
        ((4, 2), {"dtype": np.int32}, "^dtype: expected float32 or float64"),
    ],
)
def test_planted_rejects_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        givens.planted(*args, **kwargs)


# --- symmetrized Frobenius -------------------------------------------------------------------


def test_symmetrized_frobenius_equals_enumeration(rng):
    for d in (1, 2, 3, 5):
        U = np.linalg.qr(rng.standard_normal((d, d)))[0]
        V = np.linalg.qr(rng.standard_normal((d, d)))[0]
        assert givens.symmetrized_frobenius(U, V) == pytest.approx(
            ref.symmetrized_frobenius(U, V), abs=1e-12)
        W = rng.standard_normal((d + 2, d))  # not orthogonal, not square
        X = rng.standard_normal((d + 2, d))
        assert givens.symmetrized_frobenius(W, X) == pytest.approx(
            ref.symmetrized_frobenius(W, X), abs=1e-12)


def test_symmetrized_frobenius_is_invariant_to_signed_column_permutations(rng):
    d = 30
    U = np.linalg.qr(rng.standard_normal((d, d)))[0]
    V = np.linalg.qr(rng.standard_normal((d, d)))[0]
    P = np.eye(d)[rng.permutation(d)] * rng.choice([-1.0, 1.0], d)
    base = givens.symmetrized_frobenius(U, V)
    assert givens.symmetrized_frobenius(U, V @ P) == pytest.approx(base, abs=1e-12)
    assert givens.symmetrized_frobenius(U @ P, V) == pytest.approx(base, abs=1e-12)
    assert givens.symmetrized_frobenius(U, U @ P) < 1e-14  # exact, not sqrt(eps)
    assert givens.symmetrized_frobenius(U, V, normalize=True) == pytest.approx(base / np.sqrt(d))
    assert 0 <= base / np.sqrt(d) < np.sqrt(2)


def test_symmetrized_frobenius_hadamard():
    # ||H - I||_sym / sqrt(d) -> sqrt(2) for Hadamard matrices (Frerix & Bruna, section 3).
    H = np.array([[1.0]])
    for _ in range(6):
        H = np.block([[H, H], [H, -H]])
    H /= np.sqrt(64)
    err = givens.symmetrized_frobenius(np.eye(64), H, normalize=True)
    assert err == pytest.approx(np.sqrt(2 - 2 / 8), abs=1e-12)  # 2 - 2 max|H_ij| sum / d


def test_symmetrized_frobenius_rejects_bad_input():
    with pytest.raises(ValueError, match=r"^V: expected the shape of U \(3, 3\)"):
        givens.symmetrized_frobenius(np.eye(3), np.eye(4))
    with pytest.raises(ValueError, match="^U: expected a 2-dimensional array"):
        givens.symmetrized_frobenius(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="^V: expected finite values"):
        givens.symmetrized_frobenius(np.eye(2), np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="^normalize: expected True or False"):
        givens.symmetrized_frobenius(np.eye(2), np.eye(2), normalize=1)


# --- graphs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "m"), [(2, 1), (10, 1), (64, 54), (64, 36), (200, 7)])
def test_barabasi_albert_graphs(n, m):
    A = givens.barabasi_albert(n, m, np.random.default_rng(n + m))
    assert A.shape == (n, n) and A.dtype == np.float64
    assert np.array_equal(A, A.T) and not np.diagonal(A).any()
    assert set(np.unique(A)) <= {0.0, 1.0}
    assert A.sum() / 2 == m * (n - m)  # Table 1's edge counts
    degree = A.sum(axis=1)
    assert np.all(degree[m:] >= m)  # every arrival brings m edges
    assert np.all(A[m:, :m].sum(axis=1)[:1] == m)  # the first arrival joins all initial vertices
    assert not A[:m, :m].any()  # the initial vertices are not joined to each other


def test_barabasi_albert_prefers_high_degree():
    A = givens.barabasi_albert(2000, 2, np.random.default_rng(0))
    degree = A.sum(axis=1)
    assert degree[:20].mean() > 5 * degree[-500:].mean()  # early vertices become hubs


def test_barabasi_albert_is_reproducible():
    a = givens.barabasi_albert(50, 3, np.random.default_rng(1))
    b = givens.barabasi_albert(50, 3, 1)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("n", "m", "message"),
    [(5, 5, "^m: expected an integer < n = 5"), (5, 0, "^m: expected an integer >= 1"),
     (0, 1, "^n: expected an integer >= 1"), (5.5, 1, "^n: expected an integer")],
)
def test_barabasi_albert_rejects_bad_input(n, m, message):
    with pytest.raises(ValueError, match=message):
        givens.barabasi_albert(n, m)


def test_laplacian_dense_and_sparse(rng):
    sparse = pytest.importorskip("scipy.sparse")
    A = givens.barabasi_albert(30, 4, rng)
    A[3, 3] = 1.0  # a self-loop cancels out of D - A
    L = givens.laplacian(A)
    np.testing.assert_allclose(L.sum(axis=1), 0, atol=1e-12)
    off = ~np.eye(30, dtype=bool)
    np.testing.assert_array_equal(L[off], -A[off])
    assert np.all(np.linalg.eigvalsh(L) > -1e-10)  # positive semidefinite
    Ls = givens.laplacian(sparse.csr_matrix(A))
    assert sparse.issparse(Ls)
    np.testing.assert_allclose(Ls.toarray(), L, atol=1e-12)
    assert givens.laplacian(sparse.coo_matrix(A.astype(np.float32))).dtype == np.float32
    assert givens.laplacian(A.astype(np.float32)).dtype == np.float32


def test_laplacian_rejects_bad_input():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(ValueError, match="^A: expected a symmetric matrix"):
        givens.laplacian(np.array([[0.0, 1], [0, 0]]))
    with pytest.raises(ValueError, match="^A: expected a symmetric matrix"):
        givens.laplacian(sparse.csr_matrix(np.array([[0.0, 1], [0, 0]])))
    with pytest.raises(ValueError, match="^A: expected a square matrix"):
        givens.laplacian(np.ones((2, 3)))
    with pytest.raises(ValueError, match="^A: expected a square matrix"):
        givens.laplacian(sparse.csr_matrix(np.ones((2, 3))))
    with pytest.raises(ValueError, match="^A: expected finite values"):
        givens.laplacian(np.array([[0.0, np.nan], [np.nan, 0]]))
