# optkern._cuda.linalg: batched matmul and batched tridiagonal solves on a device
# (python/bindings/cuda/bind_linalg.cpp).
from collections.abc import Sequence

# (device pointer, rows, cols, row stride, column stride, batch strides); strides in elements
_MatrixDesc = tuple[int, int, int, int, int, Sequence[int]]

def bmm(
    dtype: str,
    extents: Sequence[int],
    a: _MatrixDesc,
    b: _MatrixDesc,
    c: _MatrixDesc,
    stream: int,
    /,
) -> None: ...

# Device scratch the caller allocates (so that it can come from the caller's pool).
def tridiagonal_solve_scratch_bytes(dtype: str, batch: int, n: int, /) -> int: ...

# operands: (pointer, batch stride) of lower, diag, upper and rhs; status: a device pointer to
# 2 int64 (count of singular systems, first one) or 0.
def tridiagonal_solve(
    dtype: str,
    batch: int,
    n: int,
    operands: Sequence[tuple[int, int]],
    x: int,
    status: int,
    scratch: int,
    scratch_bytes: int,
    stream: int,
    /,
) -> None: ...
