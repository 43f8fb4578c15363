# optkern._core.linalg: batched matmul and batched tridiagonal solves
# (python/bindings/core/bind_linalg.cpp).
from collections.abc import Sequence

from optkern._core import _FloatArray

def bmm(
    a: _FloatArray,
    b: _FloatArray,
    out: _FloatArray,
    extents: Sequence[int],
    a_batch_strides: Sequence[int],
    b_batch_strides: Sequence[int],
    c_batch_strides: Sequence[int],
    /,
) -> None: ...
def bmm_same_batch(a: _FloatArray, b: _FloatArray, out: _FloatArray, /) -> None: ...

# Each operand (1, n) (shared) or (batch, n); returns (number of singular systems, index of
# the first one or -1).
def tridiagonal_solve(
    lower: _FloatArray, diag: _FloatArray, upper: _FloatArray, rhs: _FloatArray, x: _FloatArray, /
) -> tuple[int, int]: ...
