"""GivensSequence: a product of Givens rotations G(i_1, j_1, theta_1) ... G(i_N, j_N, theta_N)."""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Union

import numpy as np
import numpy.typing as npt

from optkern import _backend
from optkern._validation import as_array, as_float_array, fail, result_dtype
from optkern.givens import _files

__all__ = ["GivensSequence"]

_Index = Union[int, np.integer]

# The largest dim whose (dim, dim) matrix NumPy can describe (MAX_ELEMENTS = 2**59 entries).
MAX_DIM = 2**29


@dataclass(frozen=True, eq=False)
class GivensSequence:
    """The product ``G(i[0], j[0], theta[0]) @ ... @ G(i[N-1], j[N-1], theta[N-1])``.

    ``G(i, j, theta)`` is the identity except ``G[i, i] = G[j, j] = cos(theta)``,
    ``G[i, j] = sin(theta)`` and ``G[j, i] = -sin(theta)`` (Frerix & Bruna, ICML 2019, eq. 1),
    with ``i < j``. A factorization of ``U`` by :func:`optkern.givens.factorize` is such a
    sequence with ``U ~ seq.to_dense() @ P`` for a signed permutation ``P``.

    Parameters
    ----------
    i, j : array_like of int, shape (N,)
        The rows of each factor, ``0 <= i < j < dim``.
    theta : array_like of float, shape (N,)
        The angles; float32 or float64 (the sequence's dtype).
    dim : int
        The size ``d`` of the matrices.

    Raises
    ------
    ValueError
        If dim is not a positive integer of at most 2**29, i, j and theta differ in length,
        the indices are not integers with ``0 <= i < j < dim``, or theta is not a finite real
        array.

    Notes
    -----
    Sequences are immutable. ``len(seq)`` is N; ``seq[a:b]`` is the sub-product of factors
    ``a`` to ``b - 1`` (``seq[:k]`` the first k factors); ``seq[k]`` is the tuple
    ``(i, j, theta)`` of factor k. Applying costs 6 flops per factor and column.

    Examples
    --------
    >>> import numpy as np
    >>> from optkern.givens import GivensSequence
    >>> seq = GivensSequence([0, 1], [2, 2], [0.5, -1.0], dim=3)
    >>> len(seq), seq.dtype
    (2, dtype('float64'))
    >>> G = seq.to_dense()
    >>> np.allclose(G @ G.T, np.eye(3))
    True
    >>> x = np.arange(3.0)
    >>> np.allclose(seq.apply(x), G @ x), np.allclose(seq.apply(x, transpose=True), G.T @ x)
    (True, True)
    >>> bool(seq[:1].to_dense()[0, 2] == np.sin(0.5))
    True
    """

    i: np.ndarray
    j: np.ndarray
    theta: np.ndarray
    dim: int

    if TYPE_CHECKING:  # For type checkers only: the constructor takes any array_like, which
        # __post_init__ turns into read-only ndarrays. At run time the dataclass's __init__.
        def __init__(self, i: npt.ArrayLike, j: npt.ArrayLike, theta: npt.ArrayLike,
                     dim: int) -> None: ...

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
        for name, value in (("i", i), ("j", j), ("theta", theta)):
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
        return f"GivensSequence(dim={self.dim}, factors={len(self)}, dtype={self.dtype})"

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the angles (float32 or float64), and of :meth:`to_dense`."""
        return self.theta.dtype

    @functools.cached_property
    def _cos_sin(self) -> tuple[np.ndarray, np.ndarray]:
        return np.cos(self.theta), np.sin(self.theta)

    # --- the product ---------------------------------------------------------------------
    def apply(self, X: Any, transpose: bool = False) -> np.ndarray:
        """``G_1 ... G_N @ X``, or ``(G_1 ... G_N)^T @ X`` with ``transpose=True``.

        Parameters
        ----------
        X : array_like, shape (dim,) or (..., dim, m)
            Vectors or (batches of) matrices, as for ``matmul``.
        transpose : bool
            Apply the transposed (inverse) product.

        Returns
        -------
        ndarray
            Same shape as X; float32 when both X and the sequence are float32, float64
            otherwise (integers are promoted to float64).

        Raises
        ------
        ValueError
            If X's rows (first axis of a vector, second to last of a matrix) are not ``dim``,
            or transpose is not a bool.

        Notes
        -----
        O(N) per column, in C++: the factors run over blocks of columns that stay in cache,
        threaded over blocks and batch items.

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
        X = as_array(X, "X")
        if X.ndim == 0 or (X.shape[0] if X.ndim == 1 else X.shape[-2]) != self.dim:
            fail("X", f"shape ({self.dim},) or (..., {self.dim}, m)", f"shape {X.shape}")
        dtype = result_dtype((X.dtype, "X"), (self.dtype, "theta"))
        x = as_float_array(X, "X", dtype, finite=False)
        shape = x.shape
        # the batch size is spelled out: reshape(-1, d, 0) cannot infer it for empty columns
        work = (x.reshape(1, self.dim, 1) if x.ndim == 1
                else x.reshape((math.prod(shape[:-2]),) + shape[-2:]))
        work = np.array(work, dtype=dtype, order="C", copy=True)
        cos, sin = self._cos_sin
        if dtype != self.dtype:  # float32 angles applied in float64: cos and sin in float64
            cos, sin = np.cos(self.theta.astype(dtype)), np.sin(self.theta.astype(dtype))
        _backend._core.givens_apply(self.i, self.j, cos, sin, work, bool(transpose), 0)
        return work.reshape(shape)

    def to_dense(self) -> np.ndarray:
        """The (dim, dim) matrix ``G_1 ... G_N``.

        Returns
        -------
        ndarray, shape (dim, dim)
            The product, orthogonal, in the sequence's dtype; the identity for an empty
            sequence.

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

    # --- files ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the sequence to an ``.npz`` file (arrays ``i``, ``j``, ``theta``, ``dim``).

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
        _files.write_npz(path, i=self.i, j=self.j, theta=self.theta, dim=np.int64(self.dim))

    @classmethod
    def load(cls, path: str | Path) -> GivensSequence:
        """Read a sequence written by :meth:`save`.

        Parameters
        ----------
        path : str or pathlib.Path
            An ``.npz`` file with arrays ``i``, ``j``, ``theta`` and ``dim``. Nothing in it is
            unpickled.

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
        fields = _files.read_npz(path, ("i", "j", "theta", "dim"))
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
        try:
            return cls(i, j, theta, int(dim))
        except ValueError as exc:
            fail("path", expected, f"{shown}, an invalid sequence ({exc})")
            raise AssertionError from exc  # unreachable


def _index_array(x: Any, name: str, length: int) -> np.ndarray:
    arr = as_array(x, name)
    if arr.ndim != 1 or arr.shape[0] != length:
        fail(name, f"a 1-dimensional array of {length} indices (one per angle)",
             f"shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        if arr.dtype.kind != "f" or not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            fail(name, "integer indices", f"dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)
