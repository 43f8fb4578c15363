"""GivensSequence: a product of Givens rotations G(i_1, j_1, theta_1) ... G(i_N, j_N, theta_N)."""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import numpy.typing as npt

from optkern import _arrays, _backend, _docs
from optkern._validation import (
    as_array,
    as_float_array,
    fail,
    is_gpu_array,
    resolve_device,
    result_dtype,
)
from optkern.givens import _files

__all__ = ["GivensSequence"]

_Index = Union[int, np.integer]

_NO_INDEX = np.zeros(0, np.int64)
_NO_SIGNS = np.zeros(0, np.int8)

# The largest dim whose (dim, dim) matrix NumPy can describe (MAX_ELEMENTS = 2**59 entries).
MAX_DIM = 2**29


def _operator_sections(operand: str, shape: str) -> str:
    """The Parameters, Returns and Raises of the products of one operand: x for matvec and
    rmatvec, X for matmat and rmatmat (optkern._docs fills them into both)."""
    return f"""
    Parameters
    ----------
    {operand} : array_like, shape {shape}
        The operand.

    Returns
    -------
    ndarray
        Of {operand}'s shape, in the dtype :meth:`apply` gives.

    Raises
    ------
    ValueError
        If {operand} does not have ``dim`` rows."""


_operator_vector = _docs.fill(
    operator_vector_sections=_operator_sections("x", "(dim,) or (dim, 1)"))
_operator_matrix = _docs.fill(operator_matrix_sections=_operator_sections("X", "(dim, m)"))


def _operator_method(name: str, *, matrix: bool, transpose: bool) -> Any:
    """One of scipy.sparse.linalg.LinearOperator's four products (matvec, rmatvec, matmat,
    rmatmat) as a GivensSequence method: ``self.apply`` of the operand, transposed or not,
    with its docstring and example."""
    if matrix:
        def method(self, X: Any) -> np.ndarray:  # type: ignore[no-untyped-def]
            return self.apply(X, transpose=transpose)
    else:
        def method(self, x: Any) -> np.ndarray:  # type: ignore[no-untyped-def, misc]
            return self.apply(x, transpose=transpose)
    T = ".T" if transpose else ""
    operand, eye = ("X", "np.eye(2)") if matrix else ("x", "np.ones(2)")
    expected = f"seq.to_dense(){T}" + ("" if matrix else f" @ {eye}")
    method.__name__ = name
    method.__qualname__ = f"GivensSequence.{name}"
    if _operator_method.__doc__ is None:  # python -OO: no docstrings
        return method
    method.__doc__ = f"""``seq{T} @ {operand}`` for a {"matrix" if matrix else "vector"} \
(scipy.sparse.linalg.LinearOperator's protocol).

        {{operator_{"matrix" if matrix else "vector"}_sections}}

        Examples
        --------
        >>> import numpy as np
        >>> from optkern.givens import GivensSequence
        >>> seq = GivensSequence([0], [1], [0.5], dim=2)
        >>> bool(np.allclose(seq.{name}({eye}), {expected}))
        True
        """
    return (_operator_matrix if matrix else _operator_vector)(method)


@dataclass(frozen=True, eq=False)
class GivensSequence:
    """The product ``G(i[0], j[0], theta[0]) @ ... @ G(i[N-1], j[N-1], theta[N-1]) @ P``.

    ``G(i, j, theta)`` is the identity except ``G[i, i] = G[j, j] = cos(theta)``,
    ``G[i, j] = sin(theta)`` and ``G[j, i] = -sin(theta)`` (Frerix & Bruna, ICML 2019, eq. 1),
    with ``i < j``. ``P`` is an optional signed permutation, ``P[permutation[b], b] =
    signs[b]`` (the identity when ``permutation`` is None). A factorization of ``U`` by
    :func:`optkern.givens.factorize` carries the signed permutation that fits ``U`` best, so
    that ``seq.to_dense()`` approximates ``U`` itself.

    A sequence is a linear operator: ``seq @ X`` and ``X @ seq`` for vectors and (batches of)
    matrices, ``seq.T`` (equal to ``seq.H``, the inverse), ``shape``, ``dtype``, and the
    ``matvec``/``rmatvec``/``matmat``/``rmatmat`` methods, so that
    ``scipy.sparse.linalg.aslinearoperator(seq)`` works (optkern itself never imports SciPy).

    Parameters
    ----------
    i, j : array_like of int, shape (N,)
        The rows of each factor, ``0 <= i < j < dim``.
    theta : array_like of float, shape (N,)
        The angles; float32 or float64 (the sequence's dtype).
    dim : int
        The size ``d`` of the matrices, ``1 <= d <= 2**29``.
    permutation : array_like of int, shape (dim,), optional
        A permutation of ``range(dim)``: column b of ``P`` is ``signs[b]`` times unit vector
        ``permutation[b]``. Given together with signs, or neither.
    signs : array_like, shape (dim,), optional
        Each +1 or -1.
    stopped_by : str, optional
        For a factorization, which rule ended it: ``"n_factors"``, ``"tol"``,
        ``"converged"`` (no step improves the objective) or ``"callback"``. Informative only.

    Raises
    ------
    ValueError
        If dim is not a positive integer of at most 2**29, i, j and theta differ in length,
        the indices are not integers with ``0 <= i < j < dim``, theta is not a finite real
        array, permutation is not a permutation of ``range(dim)`` or signs not all +-1, or
        only one of them is given.

    Notes
    -----
    Sequences are immutable. ``len(seq)`` is N; ``seq[k]`` is the tuple ``(i, j, theta)`` of
    factor k; ``seq[a:b]`` is the sub-product of the rotations ``a`` to ``b - 1``, without P
    (``seq[:k]`` the first k rotations; :attr:`rotations`, equal to ``seq[:]``, all of them).
    Applying costs 6 flops per factor and column.

    Examples
    --------
    >>> import numpy as np
    >>> from optkern.givens import GivensSequence
    >>> seq = GivensSequence([0, 1], [2, 2], [0.5, -1.0], dim=3)
    >>> len(seq), seq.dtype, seq.shape
    (2, dtype('float64'), (3, 3))
    >>> G = seq.to_dense()
    >>> np.allclose(G @ G.T, np.eye(3))
    True
    >>> x = np.arange(3.0)
    >>> np.allclose(seq @ x, G @ x), np.allclose(x @ seq, x @ G), np.allclose(seq.T @ x, G.T @ x)
    (True, True, True)
    >>> bool(seq[:1].to_dense()[0, 2] == np.sin(0.5))
    True
    >>> flip = GivensSequence([0], [1], [0.3], dim=2, permutation=[1, 0], signs=[1, -1])
    >>> np.allclose(flip.to_dense(), flip.rotations.to_dense() @ [[0, -1], [1, 0]])
    True
    """

    i: np.ndarray
    j: np.ndarray
    theta: np.ndarray
    dim: int
    permutation: np.ndarray | None = None
    signs: np.ndarray | None = None
    stopped_by: str | None = None

    # NumPy defers to __rmatmul__ for ``ndarray @ seq`` instead of converting seq
    __array_ufunc__ = None

    if TYPE_CHECKING:  # For type checkers only: the constructor takes any array_like, which
        # __post_init__ turns into read-only ndarrays. At run time the dataclass's __init__.
        def __init__(self, i: npt.ArrayLike, j: npt.ArrayLike, theta: npt.ArrayLike,
                     dim: int, permutation: npt.ArrayLike | None = None,
                     signs: npt.ArrayLike | None = None,
                     stopped_by: str | None = None) -> None: ...

    def __post_init__(self) -> None:
        dim = self.dim
        if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, (int, np.integer)) or dim < 1:
            fail("dim", "a positive integer", repr(dim))
        if dim > MAX_DIM:  # a (dim, dim) to_dense() must be an array NumPy can describe
            fail("dim", f"a positive integer <= {MAX_DIM} (2**29)", repr(dim))
        theta = as_float_array(self.theta, "theta", ndim=1)
        i = _index_array(self.i, "i", theta.shape[0])
        j = _index_array(self.j, "j", theta.shape[0])
        if i.size and (i.min() < 0 or (j <= i).any() or j.max() >= dim):
            fail("i, j", f"rows with 0 <= i < j < dim = {dim}")
        fields = [("i", i), ("j", j), ("theta", theta)]
        if (self.permutation is None) != (self.signs is None):
            fail("permutation, signs", "both or neither")
        if self.permutation is not None:
            perm = _index_array(self.permutation, "permutation", int(dim))
            if perm.size and (perm.min() < 0 or perm.max() >= dim
                              or np.bincount(perm, minlength=int(dim)).max() > 1):
                fail("permutation", f"a permutation of range({dim})")
            signs = as_float_array(self.signs, "signs", ndim=1)
            if signs.shape[0] != dim or not np.all(np.abs(signs) == 1):
                fail("signs", f"{dim} values, each +1 or -1", f"shape {signs.shape}")
            fields += [("permutation", perm), ("signs", signs.astype(np.int8))]
        if self.stopped_by is not None and not isinstance(self.stopped_by, str):
            fail("stopped_by", "a str or None", repr(self.stopped_by))
        for name, value in fields:
            value = value.copy() if value is getattr(self, name) else value
            value.flags.writeable = False
            object.__setattr__(self, name, value)
        object.__setattr__(self, "dim", int(dim))

    # --- a sequence of factors -----------------------------------------------------------
    def __len__(self) -> int:
        return int(self.theta.shape[0])

    def __getitem__(self, key: slice | _Index) -> Any:
        if isinstance(key, slice):
            if key.step not in (None, 1):
                fail("key", "a slice with step 1 (a sub-product of consecutive factors)",
                     repr(key))
            return GivensSequence(self.i[key], self.j[key], self.theta[key], self.dim)
        if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
            return int(self.i[key]), int(self.j[key]), self.theta[key].item()
        raise TypeError(f"GivensSequence indices must be slices or integers, not "
                        f"{type(key).__name__}")

    def __iter__(self) -> Iterator[tuple[int, int, float]]:
        for k in range(len(self)):
            yield self[k]

    def __repr__(self) -> str:
        signed = "" if self.permutation is None else ", signed permutation"
        return f"GivensSequence(dim={self.dim}, factors={len(self)}, dtype={self.dtype}{signed})"

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the angles (float32 or float64), and of :meth:`to_dense`."""
        return self.theta.dtype

    @functools.cached_property
    def _cos_sin(self) -> tuple[np.ndarray, np.ndarray]:
        return np.cos(self.theta), np.sin(self.theta)

    @property
    def shape(self) -> tuple[int, int]:
        """``(dim, dim)``, as for a matrix (and scipy.sparse.linalg.LinearOperator)."""
        return (self.dim, self.dim)

    @functools.cached_property
    def _inverse_permutation(self) -> np.ndarray:
        assert self.permutation is not None
        inv = np.empty_like(self.permutation)
        inv[self.permutation] = np.arange(self.dim)
        return inv

    @property
    def rotations(self) -> GivensSequence:
        """The product of the rotations alone, without the signed permutation."""
        if self.permutation is None:
            return self
        return GivensSequence(self.i, self.j, self.theta, self.dim)

    # --- layers of disjoint pairs --------------------------------------------------------
    @functools.cached_property
    def _layer_of(self) -> np.ndarray:
        layer = np.empty(len(self), dtype=np.int64)
        last: dict[int, int] = {}  # the layer of the last factor on each row (dim may be huge)
        for k, (i, j) in enumerate(zip(self.i.tolist(), self.j.tolist())):
            here = max(last.get(i, -1), last.get(j, -1)) + 1
            layer[k] = last[i] = last[j] = here
        layer.flags.writeable = False
        return layer

    def layers(self) -> list[npt.NDArray[np.int64]]:
        """The factors grouped into layers of disjoint pairs, without changing the product.

        Greedy, earliest layer first: factor k goes into the layer after the last layer that
        holds a factor on row ``i[k]`` or ``j[k]``, so factors that share a row keep their
        order and factors in one layer touch disjoint rows (they commute, and can be applied
        at once).

        Returns
        -------
        list of ndarray of int64
            For each layer in order, the indices of its factors (increasing).
            ``len(seq.layers())`` is :attr:`depth`; applying the layers in order, each
            factor of a layer in any order, gives ``seq.to_dense()``.

        Examples
        --------
        >>> from optkern.givens import GivensSequence
        >>> seq = GivensSequence([0, 2, 0, 1], [1, 3, 2, 3], [0.1, 0.2, 0.3, 0.4], dim=4)
        >>> [layer.tolist() for layer in seq.layers()], seq.depth
        ([[0, 1], [2, 3]], 2)
        """
        layer = self._layer_of
        order = np.argsort(layer, kind="stable")
        counts = np.bincount(layer, minlength=self.depth)
        return np.split(order, np.cumsum(counts)[:-1]) if len(self) else []

    @property
    def depth(self) -> int:
        """The number of layers of :meth:`layers` (0 for an empty sequence)."""
        return int(self._layer_of.max()) + 1 if len(self) else 0

    # --- the product ---------------------------------------------------------------------
    @_arrays.same_kind("X")
    def apply(self, X: Any, transpose: bool = False, *, device: str = "cpu") -> Any:
        """``G_1 ... G_N P @ X``, or ``(G_1 ... G_N P)^T @ X`` with ``transpose=True``.

        Parameters
        ----------
        X : array_like, shape (dim,) or (..., dim, m)
            Vectors or (batches of) matrices, as for ``matmul``. With ``device="cuda"`` also a
            CuPy array or a torch CUDA tensor (the result is then of the same kind).
        transpose : bool
            Apply the transposed (inverse) product.
        device : {"cpu", "cuda", "auto"}
            Where to apply: ``"cuda"`` runs the factors layer by layer on the GPU (one kernel
            for all layers on tiles of columns held in shared memory, or one kernel per layer
            when a column does not fit); ``"auto"`` follows X.

        Returns
        -------
        ndarray
            Same shape as X; float32 when both X and the sequence are float32, float64
            otherwise (integers are promoted to float64).

        Raises
        ------
        ValueError
            If X's rows (first axis of a vector, second to last of a matrix) are not ``dim``,
            transpose is not a bool, or device is unknown (or ``"cuda"`` where CUDA is not
            available, or ``"cpu"`` for a GPU array).

        Notes
        -----
        O(N) per column, in C++: the factors run over blocks of columns that stay in cache,
        threaded over blocks and batch items. ``seq @ X`` is ``seq.apply(X)``.

        Examples
        --------
        >>> import numpy as np
        >>> from optkern.givens import GivensSequence
        >>> seq = GivensSequence([0, 0], [1, 2], [np.pi / 2, 0.3], dim=3)
        >>> X = np.random.default_rng(0).standard_normal((4, 3, 2))   # 4 matrices 3 x 2
        >>> Y = seq.apply(X)
        >>> Y.shape, bool(np.allclose(Y, seq.to_dense() @ X))
        ((4, 3, 2), True)
        >>> bool(np.allclose(seq.apply(Y, transpose=True), X))
        True
        """
        if not isinstance(transpose, (bool, np.bool_)):
            fail("transpose", "a bool", repr(transpose))
        if device != "cpu" or is_gpu_array(X):
            if resolve_device(device, [(X, "X")]) == "cuda":
                from optkern.givens._cuda_apply import apply_cuda

                return apply_cuda(self, X, bool(transpose))
        X = as_array(X, "X")
        if X.ndim == 0 or (X.shape[0] if X.ndim == 1 else X.shape[-2]) != self.dim:
            fail("X", f"shape ({self.dim},) or (..., {self.dim}, m)", f"shape {X.shape}")
        dtype = result_dtype((X.dtype, "X"), (self.dtype, "theta"))
        x = as_float_array(X, "X", dtype, finite=False)  # C-contiguous, a copy only if needed
        shape = x.shape
        # the batch size is spelled out: reshape(-1, d, 0) cannot infer it for empty columns
        src = (x.reshape(1, self.dim, 1) if x.ndim == 1
               else x.reshape((math.prod(shape[:-2]),) + shape[-2:]))
        work = np.empty_like(src)
        cos, sin = self._cos_sin
        if dtype != self.dtype:  # float32 angles applied in float64: cos and sin in float64
            cos, sin = np.cos(self.theta.astype(dtype)), np.sin(self.theta.astype(dtype))
        perm, signs = ((_NO_INDEX, _NO_SIGNS) if self.permutation is None
                       else (self.permutation, self.signs))
        # one pass: gather through P, rotate, scatter through P^T, blocks of columns in cache
        _backend._core.givens.apply_signed(self.i, self.j, cos, sin, perm, signs, src, work,
                                           bool(transpose), 0)
        return work.reshape(shape)

    def to_dense(self) -> np.ndarray:
        """The (dim, dim) matrix ``G_1 ... G_N P``.

        Returns
        -------
        ndarray, shape (dim, dim)
            The product, orthogonal, in the sequence's dtype; the identity for an empty
            sequence without a permutation.

        Examples
        --------
        >>> import numpy as np
        >>> from optkern.givens import GivensSequence
        >>> GivensSequence([0], [1], [np.pi / 2], dim=2).to_dense().round(12) + 0.0
        array([[ 0.,  1.],
               [-1.,  0.]])
        >>> GivensSequence([], [], np.zeros(0, np.float32), dim=2).to_dense().dtype
        dtype('float32')
        """
        return self.apply(np.eye(self.dim, dtype=self.dtype))

    # --- a linear operator -----------------------------------------------------------------
    def __matmul__(self, X: Any) -> Any:
        if isinstance(X, GivensSequence):
            return NotImplemented
        return self.apply(X, device="auto")  # GPU arrays stay on their device

    def __rmatmul__(self, X: Any) -> np.ndarray:
        """``X @ seq``: rows times the product, for x of shape (dim,) or X of (..., m, dim)."""
        if is_gpu_array(X) and hasattr(X, "ndim") and X.ndim >= 2:
            # CuPy / torch: X G P = ((G P)^T X^T)^T on the device
            torch = type(X).__module__.split(".")[0] == "torch"
            swap = X.transpose(-1, -2) if torch else X.swapaxes(-1, -2)
            out = self.apply(swap, transpose=True, device="auto")
            return out.transpose(-1, -2) if torch else out.swapaxes(-1, -2)
        if is_gpu_array(X):
            return self.apply(X, transpose=True, device="auto")
        X = as_array(X, "X")
        if X.ndim == 0 or X.shape[-1] != self.dim:
            fail("X", f"shape ({self.dim},) or (..., m, {self.dim}) for X @ seq",
                 f"shape {X.shape}")
        if X.ndim == 1:
            return self.apply(X, transpose=True)
        # X G P = ((G P)^T X^T)^T
        return np.ascontiguousarray(np.swapaxes(self.apply(np.swapaxes(X, -1, -2), True),
                                                -1, -2))

    @functools.cached_property
    def T(self) -> GivensSequence:  # noqa: N802 - the matrix convention
        """The transpose ``(G_1 ... G_N P)^T``, the inverse, as a sequence of its own.

        ``P^T G_N^T ... G_1^T = H_N^T ... H_1^T P^T`` with ``H_k = P^T G_k P``, a rotation
        of rows ``(inv[i_k], inv[j_k])`` (``inv`` the inverse permutation) by
        ``signs[inv[i_k]] signs[inv[j_k]] theta_k``; without P simply the factors in reverse
        order with negated angles. O(N + dim); ``seq.T.T`` has the factors of seq.

        Examples
        --------
        >>> import numpy as np
        >>> from optkern.givens import GivensSequence
        >>> seq = GivensSequence([0, 1], [2, 2], [0.5, -1.0], dim=3, permutation=[2, 0, 1],
        ...                      signs=[1, -1, 1])
        >>> np.allclose(seq.T.to_dense(), seq.to_dense().T), seq.H is seq.T
        (True, True)
        """
        i, j, theta = self.i[::-1], self.j[::-1], -self.theta[::-1]
        if self.permutation is None:
            return GivensSequence(i, j, theta, self.dim)
        inv = self._inverse_permutation
        a, c = inv[i], inv[j]
        flip = self.signs[a].astype(np.int64) * self.signs[c]
        swapped = a > c
        theta = np.where(swapped, -theta, theta) * flip.astype(theta.dtype)
        return GivensSequence(np.minimum(a, c), np.maximum(a, c), theta, self.dim, inv,
                              self.signs[inv])

    @property
    def H(self) -> GivensSequence:  # noqa: N802 - the matrix convention
        """The conjugate transpose, equal to :attr:`T` (the factors are real)."""
        return self.T

    matvec = _operator_method("matvec", matrix=False, transpose=False)
    rmatvec = _operator_method("rmatvec", matrix=False, transpose=True)
    matmat = _operator_method("matmat", matrix=True, transpose=False)
    rmatmat = _operator_method("rmatmat", matrix=True, transpose=True)

    # --- files ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the sequence to an ``.npz`` file (arrays ``i``, ``j``, ``theta``, ``dim``, and
        ``permutation`` and ``signs`` when the sequence has them).

        Parameters
        ----------
        path : str or pathlib.Path
            The file (NumPy appends ``.npz`` to a name without it).

        Raises
        ------
        ValueError
            If path is not a str or os.PathLike, or names something other than a regular
            file (a directory, a FIFO, a device).
        OSError
            If the file cannot be written.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from optkern.givens import GivensSequence
        >>> seq = GivensSequence([0, 1], [2, 2], [0.5, -1.0], dim=3)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     seq.save(pathlib.Path(tmp) / "factors.npz")
        ...     back = GivensSequence.load(pathlib.Path(tmp) / "factors.npz")
        >>> back.dim, list(back) == list(seq)
        (3, True)
        """
        extra = ({} if self.permutation is None
                 else {"permutation": self.permutation, "signs": self.signs})
        _files.write_npz(path, i=self.i, j=self.j, theta=self.theta, dim=np.int64(self.dim),
                         **extra)

    @classmethod
    def load(cls, path: str | Path) -> GivensSequence:
        """Read a sequence written by :meth:`save`.

        Parameters
        ----------
        path : str or pathlib.Path
            An ``.npz`` file with arrays ``i``, ``j``, ``theta`` and ``dim`` (and optionally
            ``permutation`` and ``signs``). Nothing in it is unpickled.

        Returns
        -------
        GivensSequence
            The sequence, checked as the constructor checks it, with the saved dtype.

        Raises
        ------
        ValueError
            If path is not a str or os.PathLike, not a regular file (a directory, a FIFO or
            a device is never opened for reading), not an ``.npz`` file written by
            :meth:`save` (any malformed or truncated file), lacks one of the arrays, holds
            a field of the wrong type or range (``dim`` must be an integer scalar in
            [1, 2**29], ``i`` and ``j`` integer vectors, ``theta`` a float32 or float64
            vector), or an invalid sequence. Nothing is allocated beyond what the file
            holds.
        OSError
            If the file cannot be opened or read (missing, no permission, I/O error).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> import numpy as np
        >>> from optkern.givens import GivensSequence
        >>> seq = GivensSequence([0], [1], np.float32([0.25]), dim=2)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     seq.save(pathlib.Path(tmp) / "factors.npz")
        ...     back = GivensSequence.load(pathlib.Path(tmp) / "factors.npz")
        >>> back
        GivensSequence(dim=2, factors=1, dtype=float32)
        """
        fields = _files.read_npz(path, ("i", "j", "theta", "dim"), ("permutation", "signs"))
        shown = repr(os.fsdecode(_files.check_path(path)))
        return cls._from_fields(fields, shown)

    @classmethod
    def _from_fields(cls, fields: dict[str, Any], shown: str) -> GivensSequence:
        expected = _files.EXPECTED
        i = _files.integer_field(fields["i"], "i", shown, ndim=1)
        j = _files.integer_field(fields["j"], "j", shown, ndim=1)
        dim = _files.integer_field(fields["dim"], "dim", shown, ndim=0)
        theta = fields["theta"]
        if theta.dtype not in (np.float32, np.float64) or theta.ndim != 1:
            fail("path", f"{expected} ('theta': a 1-dimensional float32 or float64 array)",
                 f"{shown} with 'theta' of dtype {theta.dtype} and shape {theta.shape}")
        if not 1 <= int(dim) <= MAX_DIM:
            fail("path", f"{expected} ('dim': an integer in [1, {MAX_DIM}])",
                 f"{shown} with dim = {int(dim)}")
        perm, signs = fields["permutation"], fields["signs"]
        if perm is not None:
            perm = _files.integer_field(perm, "permutation", shown, ndim=1)
        if signs is not None:
            signs = _files.integer_field(signs, "signs", shown, ndim=1)
        try:
            return cls(i, j, theta, int(dim), perm, signs)
        except ValueError as exc:
            fail("path", expected, f"{shown}, an invalid sequence ({exc})")
            raise AssertionError from exc  # unreachable


def _index_array(x: Any, name: str, length: int) -> np.ndarray:
    arr = as_array(x, name)
    if arr.ndim != 1 or arr.shape[0] != length:
        fail(name, f"a 1-dimensional array of {length} indices (one per angle)",
             f"shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        whole = np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))
        if arr.dtype.kind != "f" or not whole:
            fail(name, "integer indices", f"dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)
