# optkern._core.givens: the factorization engines and the products of a Givens sequence
# (python/bindings/core/bind_givens.cpp).
from typing import Generic

import numpy as np
from numpy.typing import NDArray

from optkern._core import _F, _IndexArray

# dst <- (G P) src or (G P)^T src, (batch, d, cols) C-contiguous; perm and signs empty for
# P = I.
def apply_signed(
    i: _IndexArray,
    j: _IndexArray,
    cos: NDArray[_F],
    sin: NDArray[_F],
    perm: _IndexArray,
    signs: NDArray[np.int8],
    src: NDArray[_F],
    dst: NDArray[_F],
    transpose: bool,
    threads: int,
) -> None: ...

# x: (batch, d, cols) C-contiguous, rotated in place.
def apply(
    i: _IndexArray,
    j: _IndexArray,
    cos: NDArray[_F],
    sin: NDArray[_F],
    x: NDArray[_F],
    transpose: bool,
    threads: int,
) -> None: ...

# The factorization engines of optkern.givens, one class per method and dtype. run() writes up
# to max_steps factors into i, j, theta, score from position `offset` and returns how many it
# wrote (fewer once no pair improves the objective). The bindings share no base class: the
# generic bases here exist only in the stub, to say once what the engines have in common.
class _GivensEngine(Generic[_F]):
    def run(
        self,
        max_steps: int,
        i: _IndexArray,
        j: _IndexArray,
        theta: NDArray[_F],
        score: NDArray[np.float64],
        offset: int,
    ) -> int: ...
    @property
    def converged(self) -> bool: ...
    def matrix(self) -> NDArray[_F]: ...

class _GivensL1Descent(_GivensEngine[_F]):
    def __init__(self, u: NDArray[_F], threads: int) -> None: ...
    @property
    def threads(self) -> int: ...
    def l1_norm(self) -> float: ...
    def set_layered(self, on: bool) -> None: ...
    @property
    def depth(self) -> int: ...

class GivensL1Descent32(_GivensL1Descent[np.float32]): ...
class GivensL1Descent64(_GivensL1Descent[np.float64]): ...

# The engines that take only the orthogonal matrix u.
class _GivensOfU(_GivensEngine[_F]):
    def __init__(self, u: NDArray[_F]) -> None: ...

class GivensFrobeniusGreedy32(_GivensOfU[np.float32]): ...
class GivensFrobeniusGreedy64(_GivensOfU[np.float64]): ...
class GivensElimination32(_GivensOfU[np.float32]): ...
class GivensElimination64(_GivensOfU[np.float64]): ...

# Jacobi eigenvalue sweeps of the symmetric matrix l.
class _GivensJacobi(_GivensEngine[_F]):
    def __init__(self, l: NDArray[_F]) -> None: ...  # noqa: E741 (the bound name)

class GivensJacobi32(_GivensJacobi[np.float32]): ...
class GivensJacobi64(_GivensJacobi[np.float64]): ...

# Beam search over the L1 descent: advance() takes up to max_steps steps of every beam;
# best_path() is the best beam's (i, j, theta, score) so far, matrix() its working matrix.
class _GivensBeam(Generic[_F]):
    def __init__(self, u: NDArray[_F], width: int, threads: int) -> None: ...
    def advance(self, max_steps: int) -> int: ...
    @property
    def converged(self) -> bool: ...
    @property
    def steps(self) -> int: ...
    def best_objective(self) -> float: ...
    def matrix(self) -> NDArray[_F]: ...
    def best_path(self) -> tuple[_IndexArray, _IndexArray, NDArray[_F], NDArray[np.float64]]: ...

class GivensBeamL132(_GivensBeam[np.float32]): ...
class GivensBeamL164(_GivensBeam[np.float64]): ...
