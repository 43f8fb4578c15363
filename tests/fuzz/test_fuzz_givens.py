"""Fuzzing optkern.givens (factorize, jacobi, GivensSequence and its methods, planted,
symmetrized_frobenius, barabasi_albert, laplacian) with adversarial input: every call returns
the reference's result or raises a ValueError/TypeError naming the argument."""

import math
import os
import tempfile

import adversarial as adv
import numpy as np
import pytest
from conftest import ACCUMULATED, EXACT
from hypothesis import given
from hypothesis import strategies as st
from reference import givens as ref

from optkern import givens

pytestmark = pytest.mark.usefixtures("watchdog")

COUNTS = adv.scalars(st.sampled_from([None, 0, 1, 3, 10, 40, 3.0, None]),
                     [-1, 2.5, True, "3", 1e300, 2**70])
FLAGS = adv.choice([False, False, True], [1, "yes", None])


def count_fault(n):
    if n is None:
        return False
    return isinstance(n, bool) or not adv.is_number(n) or not float(n).is_integer() or n < 0 \
        or n > 2**59


def flag_fault(value):
    return not isinstance(value, (bool, np.bool_))


@st.composite
def square_inputs(draw, kind):
    """A (d, d) matrix: orthogonal / symmetric (kind) in float64 or float32 most of the
    time, else an adversarial array spec."""
    d = draw(adv.dims(0, 6))
    how = draw(adv.choice(["structured", "structured", "permutation"], ["spec"]))
    seed = draw(st.integers(0, 2**32 - 1))
    dtype = draw(st.sampled_from([np.float64, np.float64, np.float32]))
    rng = np.random.default_rng(seed)
    if how == "spec":
        shape = draw(st.sampled_from([(d, d), (d, d), (d, d + 1), (d,), (1, d, d)]))
        return draw(adv.specs(shape), label="matrix spec").build(), "spec"
    if how == "permutation":
        u = np.eye(d)[rng.permutation(d)] * rng.choice([-1.0, 1.0], d)
        return (u if kind == "orthogonal" else u + u.T).astype(dtype), "tied"
    a = rng.standard_normal((d, d))
    if kind == "orthogonal":
        u = np.linalg.qr(a)[0] if d else a
        return u.astype(dtype), "random"
    return (a + a.T).astype(dtype), "random"


def square_matrix(x):
    """x in its compute dtype if it is a finite numeric (d, d) matrix with d >= 2, else None."""
    x = np.asarray(x)
    if x.dtype.kind not in "biuf" or x.ndim != 2 or x.shape[0] != x.shape[1] or x.shape[0] < 2 \
            or adv.has_nonfinite(x):
        return None
    return np.asarray(x, adv.policy_dtype(x))


def orthogonal(u, dtype):
    d = u.shape[0]
    tol = 1000 * np.sqrt(d) * np.finfo(dtype).eps
    u64 = u.astype(np.float64)
    return np.abs(u64.T @ u64 - np.eye(d)).max(initial=0) <= tol


def check_sequence(seq, d, dtype, limit):
    assert isinstance(seq, givens.GivensSequence) and seq.dim == d and seq.dtype == dtype
    assert len(seq) <= limit
    if len(seq):
        assert (0 <= seq.i).all() and (seq.i < seq.j).all() and (seq.j < d).all()
        assert np.isfinite(seq.theta).all()
    dense = seq.to_dense()
    product = ref.product(d, seq.i, seq.j, seq.theta)
    if seq.permutation is not None:  # to_dense() = G_1 ... G_N P, P[perm[b], b] = signs[b]
        product = product[:, seq.permutation] * seq.signs
    np.testing.assert_allclose(dense, product, atol=EXACT[dtype])
    return dense


@given(matrix=square_inputs("orthogonal"), n_factors=COUNTS,
       method=adv.choice(["l1", "l1", "greedy", "elimination"], ["L1"]),
       callback=adv.choice([None, None, "stop", "count"], [3]), progress=FLAGS,
       check=adv.choice([True, True, False], ["no"]), device=adv.DEVICES)
def test_factorize(matrix, n_factors, method, callback, progress, check, device):
    U, how = matrix
    steps = []
    callback_arg = {"stop": lambda step: (steps.append(step), True)[1],
                    "count": lambda step: steps.append(step)}.get(callback, callback)
    outcome = adv.call(givens.factorize, U, n_factors, method=method, device=device,
                       callback=callback_arg, progress=progress, check=check,
                       arguments=("U", "n_factors", "method", "device", "callback", "progress",
                                  "check"))
    if np.ndim(U) == 3:  # a stack (1, d, d): one sequence per matrix, in an object array
        U = U[0]
        if outcome.ok:
            assert outcome.result.shape == (1,)
            outcome.result = outcome.result[0]
    faults = set()
    if method not in ("l1", "greedy", "elimination"):
        faults.add("method")
    if device not in ("cpu", "auto", "cuda"):
        faults.add("device")
    if callback == 3:
        faults.add("callback")
    if flag_fault(progress):
        faults.add("progress")
    if flag_fault(check):
        faults.add("check")
    if faults:
        return adv.expect_error(outcome, *faults)
    if adv.check_device(outcome, device):
        return
    u = square_matrix(U)
    if u is None:
        return adv.expect_error(outcome, "U")
    dtype, d = u.dtype.type, u.shape[0]
    if check is True and not orthogonal(u, dtype):
        return adv.expect_error(outcome, "U")
    if count_fault(n_factors) or (n_factors is None and method != "elimination"):
        return adv.expect_error(outcome, "n_factors")  # a greedy run needs n_factors or tol
    seq = adv.expect_ok(outcome)
    limit = d * (d - 1) // 2 if n_factors is None else int(n_factors)
    dense = check_sequence(seq, d, dtype, limit)
    if callback == "stop":
        assert len(seq) <= 1 and len(steps) == len(seq)
    if callback == "count":
        assert [(s.i, s.j) for s in steps] == list(zip(seq.i.tolist(), seq.j.tolist()))
    if not orthogonal(u, dtype):
        return  # check=False on a matrix that is not orthogonal: no crash is the contract
    V = seq.apply(u, transpose=True).astype(np.float64)  # G_N^T ... G_1^T U
    u64 = u.astype(np.float64)
    rtol = ACCUMULATED[dtype]
    if method == "l1":
        assert np.abs(V).sum() <= np.abs(u64).sum() * (1 + rtol)
        if how == "random" and dtype == np.float64 and len(seq) and callback is None:
            i, j, theta = ref.l1_coordinate_descent(u64, len(seq))
            k = len(i)
            if _same_trajectory_up_to_ties(u64, seq, i, j, theta) and k < len(seq):
                # steps the reference does not take decrease the L1 norm by rounding noise
                # only: the two compute a decrease differently near the threshold
                before = np.abs(seq[:k].apply(u64, transpose=True)).sum()
                noise = 1e3 * ref.noise_fraction(d, np.float64) * before
                assert before - np.abs(V).sum() <= noise
    elif method == "greedy":
        assert np.linalg.norm(V - np.eye(d)) <= np.linalg.norm(u64 - np.eye(d)) * (1 + rtol) \
            + rtol
    elif n_factors is None and callback not in ("stop",):
        # elimination with every factor is exact up to the signs of the columns
        np.testing.assert_allclose(np.abs(V), np.eye(d), atol=100 * rtol)
        np.testing.assert_allclose(dense @ V, u64, atol=100 * rtol)


@given(matrix=square_inputs("symmetric"), n_factors=COUNTS, progress=FLAGS,
       return_eigenvalues=FLAGS,
       callback=adv.choice([None, None, "stop"], [3]))
def test_jacobi(matrix, n_factors, progress, return_eigenvalues, callback):
    L, how = matrix
    callback_arg = {"stop": lambda step: True}.get(callback, callback)
    outcome = adv.call(givens.jacobi, L, n_factors, callback=callback_arg, progress=progress,
                       return_eigenvalues=return_eigenvalues,
                       arguments=("L", "n_factors", "callback", "progress", "return_eigenvalues"))
    faults = {name for name, value in (("progress", progress),
                                       ("return_eigenvalues", return_eigenvalues))
              if flag_fault(value)}
    if callback == 3:
        faults.add("callback")
    if faults:
        return adv.expect_error(outcome, *faults)
    a = square_matrix(L)
    if a is None:
        return adv.expect_error(outcome, "L")
    dtype, d = a.dtype.type, a.shape[0]
    scale = np.abs(a).max()
    tol = 1000 * np.sqrt(d) * np.finfo(dtype).eps * scale
    if not np.abs(a - a.T).max() <= tol:
        return adv.expect_error(outcome, "L")
    if count_fault(n_factors):
        return adv.expect_error(outcome, "n_factors")
    result = adv.expect_ok(outcome)
    seq, lam = result if return_eigenvalues else (result, None)
    limit = d * (d - 1) // 2 if n_factors is None else int(n_factors)
    V = check_sequence(seq, d, dtype, limit).astype(np.float64)
    a64 = a.astype(np.float64)
    rotated = V.T @ a64 @ V
    off = lambda m: np.linalg.norm(m - np.diag(np.diag(m)))  # noqa: E731
    rtol = ACCUMULATED[dtype]
    assert off(rotated) <= off(a64) * (1 + rtol) + rtol * scale * d
    if lam is not None:
        assert lam.shape == (d,) and np.isfinite(lam).all()
        np.testing.assert_allclose(lam, np.diag(rotated), atol=100 * rtol * (scale + 1))
    if how == "random" and dtype == np.float64 and len(seq) and callback is None:
        steps, _ = ref.jacobi(a64, len(seq))
        assert [(p, q) for p, q, _ in steps] == list(zip(seq.i.tolist(), seq.j.tolist()))


INDEX_VALUES = adv.choice(["good", "good", "float"], ["negative", "j<=i", "j>=dim", "fractional",
                                                 "nan", "bool", "object", "2-d", "length"])


def make_indices(kind, count, dim, rng):
    if dim < 2:
        i, j = np.zeros(count, np.int64), np.ones(count, np.int64)
    else:
        i = rng.integers(0, dim - 1, count)
        j = i + 1 + rng.integers(0, dim - 1 - i) if count else i + 1
    if kind == "2-d":
        return i[:, None], j
    if kind == "length":
        return np.append(i, 0), j
    if kind == "good" or count == 0:
        return i, j
    if kind == "negative":
        i = i - dim
    elif kind == "j<=i":
        j = i
    elif kind == "j>=dim":
        j = j + dim
    elif kind == "float":
        i, j = i.astype(float), j.astype(float)
    elif kind == "fractional":
        i = i + 0.5
    elif kind == "nan":
        i = np.full(count, np.nan)
    elif kind == "bool":
        i = np.zeros(count, bool)
    elif kind == "object":
        i = i.astype(object)
    return i, j


@given(count=adv.dims(0, 8), dim=adv.scalars(adv.dims(0, 6)),
       indices=INDEX_VALUES, data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_givens_sequence(count, dim, indices, data, seed):
    rng = np.random.default_rng(seed)
    d = dim if isinstance(dim, int) and not isinstance(dim, bool) else 3
    i, j = make_indices(indices, count, d, rng)
    ts = data.draw(adv.specs((count,), fills=["normal"] * 4 + ["huge", "edges", "nonfinite",
                                                            "zeros"]), label="theta")
    theta = ts.build()
    outcome = adv.call(givens.GivensSequence, i, j, theta, dim,
                       arguments=("i", "j", "theta", "dim", "i, j"))
    if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, (int, np.integer)) or dim < 1:
        return adv.expect_error(outcome, "dim")
    if ts.rejected_dtype or adv.has_nonfinite(theta):
        return adv.expect_error(outcome, "theta")
    if indices in ("2-d", "length") or (count and (indices not in ("good", "float")
                                                    or dim < 2)):
        return adv.expect_error(outcome, "i", "j")
    seq = adv.expect_ok(outcome)
    dtype = np.float32 if ts.compute_dtype == "float32" else np.float64
    assert len(seq) == count and seq.dtype == dtype
    dense = check_sequence(seq, dim, dtype, count)
    assert [tuple(f[:2]) for f in seq] == list(zip(seq.i.tolist(), seq.j.tolist()))
    # sub-sequences, and the errors of bad keys
    k = data.draw(st.integers(-count - 2, count + 2), label="k")
    np.testing.assert_allclose(seq[:k].to_dense() if count else dense,
                               ref.product(dim, seq.i[:k], seq.j[:k], seq.theta[:k]),
                               atol=EXACT[dtype])
    if -count <= k < count:
        assert seq[k][:2] == (int(seq.i[k]), int(seq.j[k]))
    else:
        with pytest.raises(IndexError):
            seq[k]
    adv.expect_error(adv.call(seq.__getitem__, slice(None, None, 2), arguments=("key",)), "key")
    with pytest.raises(TypeError):
        seq["0"]
    # apply against the dense product
    shape = data.draw(adv.choice([(dim,), (dim, 3), (2, dim, 1), (dim, 0), (0, dim, 2)],
                                 [(dim + 1,), ()]), label="X shape")
    xs = data.draw(adv.specs(shape), label="X")
    X = xs.build()
    transpose = data.draw(adv.choice([False, True], ["yes"]), label="transpose")
    outcome = adv.call(seq.apply, X, transpose, arguments=("X", "transpose"))
    if transpose == "yes":
        return adv.expect_error(outcome, "transpose")
    if xs.rejected_dtype or X.ndim == 0 or (X.shape[0] if X.ndim == 1 else X.shape[-2]) != dim:
        return adv.expect_error(outcome, "X")
    Y = adv.expect_ok(outcome)
    assert Y.shape == X.shape
    G = ref.product(dim, seq.i, seq.j, seq.theta)
    G = G.T if transpose else G
    X64 = np.asarray(X, Y.dtype).astype(np.float64)
    with np.errstate(all="ignore"):
        expected = G @ X64 if X.ndim == 1 else np.matmul(G, X64)
    finite = np.isfinite(expected) & (np.abs(expected) < 1e300)
    rtol = EXACT[Y.dtype]
    scale = np.abs(X64).max(initial=0) if np.isfinite(X64).all() else 1.0
    with np.errstate(invalid="ignore"):
        error = np.abs(Y - expected)
    assert np.all((error <= rtol * (scale + 1e-300) * 10)[finite])
    # save and load give the same sequence back
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "seq.npz")
        seq.save(path)
        again = givens.GivensSequence.load(path)
    assert again.dim == seq.dim and again.dtype == seq.dtype
    np.testing.assert_array_equal(again.theta, seq.theta)


@given(d=adv.scalars(adv.dims(0, 6)), k=adv.scalars(adv.dims(0, 10), [-1, 2.5, True, None]),
       rng=adv.choice([0, 1, None], ["seed", -1]),
       dtype=adv.choice(["float64", np.float32, None], ["float16", int, "nonsense"]),
       return_sequence=FLAGS)
def test_planted(d, k, rng, dtype, return_sequence):
    outcome = adv.call(givens.planted, d, k, rng, dtype=dtype, return_sequence=return_sequence,
                       arguments=("d", "k", "rng", "dtype", "return_sequence"))
    faults = set()
    if isinstance(d, bool) or not adv.is_number(d) or not float(d).is_integer() or d < 2 \
            or d > math.isqrt(2**59):
        faults.add("d")
    if isinstance(k, bool) or not adv.is_number(k) or not float(k).is_integer() or k < 0:
        faults.add("k")
    if flag_fault(return_sequence):
        faults.add("return_sequence")
    if dtype not in ("float64", np.float32, None):  # None: NumPy's default, float64
        faults.add("dtype")
    if rng in ("seed", -1):
        faults.add("rng")
    if faults:
        return adv.expect_error(outcome, *faults)
    result = adv.expect_ok(outcome)
    U, seq = result if return_sequence else (result, None)
    d = int(d)
    assert U.shape == (d, d) and U.dtype == np.dtype(dtype) and orthogonal(U, U.dtype)
    if seq is not None:
        assert len(seq) == int(k)
        np.testing.assert_allclose(U, ref.product(d, seq.i, seq.j, seq.theta),
                                   atol=EXACT[U.dtype])


@given(data=st.data(), n=adv.dims(0, 4), d=adv.dims(0, 4),
       v_shape=adv.choice(["same"], ["other"]), normalize=FLAGS,
       how=st.sampled_from(["spec", "permuted"]))
def test_symmetrized_frobenius(data, n, d, v_shape, normalize, how):
    us = data.draw(adv.specs((n, d)), label="U")
    U = us.build()
    if how == "permuted" and not us.rejected_dtype:
        perm = np.random.default_rng(0).permutation(d)
        V = -np.asarray(U, np.float64)[:, perm]
        vs = None
    else:
        vs = data.draw(adv.specs((n, d) if v_shape == "same" else (n, d + 1)), label="V")
        V = vs.build()
    outcome = adv.call(givens.symmetrized_frobenius, U, V, normalize=normalize,
                       arguments=("U", "V", "normalize"))
    if flag_fault(normalize):
        return adv.expect_error(outcome, "normalize")
    for spec, x, name in ((us, U, "U"), (vs, V, "V")):
        if (spec is not None and spec.rejected_dtype) or adv.has_nonfinite(x):
            return adv.expect_error(outcome, name)
    if np.shape(U) != np.shape(V):
        return adv.expect_error(outcome, "V")
    error = adv.expect_ok(outcome)
    assert isinstance(error, float) and error >= 0
    U64, V64 = np.asarray(U, np.float64), np.asarray(V, np.float64)
    scale = max(np.abs(U64).max(initial=0), np.abs(V64).max(initial=0))
    if scale < 1e150:
        assert np.isfinite(error)
        # the reference on U and V scaled by a power of two: its norm underflows otherwise
        unit = np.ldexp(1.0, np.frexp(scale)[1]) if scale > 0 else 1.0
        expected = ref.symmetrized_frobenius(U64 / unit, V64 / unit) * unit if d else 0.0
        expected /= np.sqrt(d) if normalize and d else 1
        assert abs(error - expected) <= 1e-12 * (scale + 1e-300) * (n * d + 1) or \
            error <= expected  # a better signed permutation than the enumeration cannot be
    else:
        assert not np.isnan(error)


@given(n=adv.scalars(adv.dims(0, 30), [-1, 2.5, None, True]),
       m=adv.scalars(adv.dims(0, 8), [-1, 2.5, None]),
       rng=adv.choice([0, 1, None], ["x"]))
def test_barabasi_albert(n, m, rng):
    outcome = adv.call(givens.barabasi_albert, n, m, rng, arguments=("n", "m", "rng"))
    faults = set()
    if isinstance(n, bool) or not adv.is_number(n) or not float(n).is_integer() or n < 1:
        faults.add("n")
    if isinstance(m, bool) or not adv.is_number(m) or not float(m).is_integer() or m < 1:
        faults.add("m")
    elif not faults and m >= n:
        faults.add("m")
    if rng == "x":
        faults.add("rng")
    if faults:
        return adv.expect_error(outcome, *faults)
    A = adv.expect_ok(outcome)
    assert A.shape == (n, n) and (A == A.T).all() and set(np.unique(A)) <= {0.0, 1.0}
    assert np.trace(A) == 0 and int(A.sum()) // 2 == m * (n - m)


@given(data=st.data(), n=adv.dims(0, 5), shape=adv.choice(["square"], ["wide", "1-d"]),
       symmetric=st.booleans(), sparse=st.booleans())
def test_laplacian(data, n, shape, symmetric, sparse):
    As = data.draw(adv.specs({"square": (n, n), "wide": (n, n + 1), "1-d": (n,)}[shape]),
                   label="A")
    A = As.build()
    if symmetric and not As.rejected_dtype and A.ndim == 2 and A.shape[0] == A.shape[1]:
        with np.errstate(all="ignore"):
            A = np.asarray(A) + np.asarray(A).T
    if sparse and not As.rejected_dtype and A.ndim == 2 and not adv.has_nonfinite(A) \
            and A.dtype != np.float16 and A.dtype.isnative:  # as scipy.sparse takes them
        import scipy.sparse as sp

        A = sp.csr_matrix(np.asarray(A))
    outcome = adv.call(givens.laplacian, A, arguments=("A",))
    dense = A.toarray() if hasattr(A, "toarray") else np.asarray(A)
    if dense.dtype.kind not in "biuf" or dense.ndim != 2 or dense.shape[0] != dense.shape[1] \
            or adv.has_nonfinite(dense):
        return adv.expect_error(outcome, "A")
    a64 = dense.astype(np.float64)
    dtype = adv.policy_dtype(dense).type
    a = dense.astype(dtype).astype(np.float64)
    scale = np.abs(a).max(initial=0)
    if a.size and np.abs(a - a.T).max() > 1000 * np.sqrt(n) * np.finfo(dtype).eps * scale:
        return adv.expect_error(outcome, "A")
    L = adv.expect_ok(outcome)
    L = L.toarray() if hasattr(L, "toarray") else L
    assert L.shape == (n, n) and np.isfinite(L).all() or scale > 1e300
    with np.errstate(over="ignore", invalid="ignore"):  # row sums of huge entries: Inf
        expected = np.diag(a.sum(1) - np.diag(a)) - (a - np.diag(np.diag(a)))
        checked = np.isfinite(expected) & (np.abs(a64).sum(1) < 1e300)[:, None]
        error, bound = np.abs(L - expected), 1e-6 * (np.abs(a).sum(1)[:, None] + 1e-300)
    assert np.all((error <= bound)[checked])


def test_absurd_sizes_raise_memory_error():
    with pytest.raises(MemoryError):
        givens.planted(2**28, 0)  # a 2^28 x 2^28 matrix: 512 PiB
    seq = givens.GivensSequence([0], [1], [0.5], dim=2)
    with pytest.raises(MemoryError):
        seq.apply(np.broadcast_to(np.ones((2, 1)), (2**40, 2, 1)))


def test_huge_batch_of_tiny_matrices():
    rng = np.random.default_rng(2)
    seq = givens.GivensSequence([0, 0], [1, 1], [0.4, -1.1], dim=2)
    X = rng.standard_normal((200_000, 2, 1))
    np.testing.assert_allclose(seq.apply(X), seq.to_dense() @ X, rtol=1e-13, atol=1e-14)


def _same_trajectory_up_to_ties(u, seq, i, j, theta) -> bool:
    """optkern's L1 steps equal the NumPy reference's, up to the first step where two pairs
    tie to rounding (then each implementation may pick either; both are optimal). True when
    the common steps all agree, False when a tie made them part."""
    pairs = list(zip(seq.i.tolist(), seq.j.tolist()))
    ref_pairs = list(zip(np.asarray(i).tolist(), np.asarray(j).tolist()))
    for k, (got, want) in enumerate(zip(pairs, ref_pairs)):
        if got != want:
            mine = np.abs(seq[:k + 1].apply(u, transpose=True)).sum()
            prefix = givens.GivensSequence(i[:k + 1], j[:k + 1], np.asarray(theta[:k + 1]),
                                           dim=u.shape[0])
            theirs = np.abs(prefix.apply(u, transpose=True)).sum()
            assert abs(mine - theirs) <= 1e-9 * np.abs(u).sum(), (k, got, want, mine, theirs)
            return False
        np.testing.assert_allclose(seq.theta[k], theta[k], atol=1e-9)
    return True
