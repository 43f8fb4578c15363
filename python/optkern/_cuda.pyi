# Stub of the compiled CUDA module (python/bindings/cuda). Internal: use the optkern package.
#
# Arrays arrive as device pointers (ints) with their sizes and strides in elements, as
# python/optkern/_gpu.py reads them from DLPack; `stream` is a cudaStream_t as an int (0: the
# legacy default stream) and `dtype` is the NumPy type character, "f" or "d". Functions bound
# without py::arg names take positional arguments only. tests/test_stubs.py checks these stubs
# against the module's signatures.
from collections.abc import Sequence
from typing import Any, ClassVar, TypedDict

import numpy as np
from numpy.typing import NDArray

from optkern._core import (
    OptimizeSettings,
    SinkhornMethod,
    _Enum,
    _GivensEngine,
    _SinkhornStats,
)

# (device pointer, rows, cols, row stride, column stride, batch strides); strides in elements
_MatrixDesc = tuple[int, int, int, int, int, Sequence[int]]

class CudaError(RuntimeError):
    """A CUDA runtime error, with cudaGetErrorString's text."""

class _DeviceInfo(TypedDict):
    index: int
    name: str
    compute_capability: tuple[int, int]
    total_memory: int  # bytes
    multiprocessors: int

GIVENS_MAX_DIM: int  # the largest matrix the CUDA Givens engine takes

def devices() -> list[_DeviceInfo]: ...  # empty without a driver or a device
def driver_status() -> str: ...
def runtime_version() -> int: ...
def malloc(nbytes: int, /) -> int: ...
def free(ptr: int, /) -> None: ...
def copy_to_device(dst: int, src: NDArray[Any], stream: int, /) -> None: ...
def copy_to_host(dst: NDArray[Any], src: int, stream: int, /) -> None: ...
def stream_synchronize(stream: int, /) -> None: ...

# --- linalg ------------------------------------------------------------------------------
def bmm(
    dtype: str,
    extents: Sequence[int],
    a: _MatrixDesc,
    b: _MatrixDesc,
    c: _MatrixDesc,
    stream: int,
    /,
) -> None: ...

# --- givens ------------------------------------------------------------------------------
# u: device pointer to a C-contiguous (d, d) matrix; run() fills host arrays, as the CPU
# engines do.
class GivensL1DescentCuda32(_GivensEngine[np.float32]):
    def __init__(self, u: int, d: int, stream: int) -> None: ...

class GivensL1DescentCuda64(_GivensEngine[np.float64]):
    def __init__(self, u: int, d: int, stream: int) -> None: ...

# A GivensSequence applied in place to x (batch, d, cols) on the device, layer by layer:
# i, j, cos, sin device pointers to the factors in layer order, layer_start host offsets.
def givens_apply_layers(
    dtype: str,
    i: int,
    j: int,
    cos: int,
    sin: int,
    layer_start: NDArray[np.int64],
    x: int,
    batch: int,
    d: int,
    cols: int,
    transpose: bool,
    stream: int,
) -> None: ...

# --- tv and tridiagonal ------------------------------------------------------------------
# Device scratch the caller allocates (so that it can come from the caller's pool).
def tv_denoise_scratch_bytes(batch: int, n: int, /) -> int: ...
def tv_denoise_irls_scratch_bytes(batch: int, n: int, /) -> int: ...
def tridiagonal_solve_scratch_bytes(dtype: str, batch: int, n: int, /) -> int: ...

# How the exact solver and the backward map signals to threads (cuda::TvMapping).
class TvMapping(_Enum):
    auto: ClassVar[TvMapping]
    staged: ClassVar[TvMapping]
    direct: ClassVar[TvMapping]
    __members__: ClassVar[dict[str, TvMapping]]

# lam: float64 device array, lam_stride 0 (shared) or 1.
def tv_denoise(
    dtype: str,
    batch: int,
    n: int,
    x: int,
    lam: int,
    lam_stride: int,
    y: int,
    scratch: int,
    scratch_bytes: int,
    stream: int,
    mapping: TvMapping,
    condat_budget: int,
    /,
) -> None: ...
def tv_denoise_irls(
    dtype: str,
    batch: int,
    n: int,
    x: int,
    lam: int,
    lam_stride: int,
    tol: float,
    max_iter: int,
    y: int,
    nit: int,
    change: int,
    scratch: int,
    scratch_bytes: int,
    stream: int,
    /,
) -> None: ...
def tv_denoise_vjp(
    dtype: str,
    batch: int,
    n: int,
    y: int,
    grad_y: int,
    rtol: float,
    grad_x: int,
    grad_lam: int,
    stream: int,
    mapping: TvMapping,
    /,
) -> None: ...

# One weight per edge: w float64 device rows, w_stride 0 (shared) or n - 1.
def tv_denoise_weighted_scratch_bytes(batch: int, n: int, /) -> int: ...
def tv_denoise_weighted(
    dtype: str,
    batch: int,
    n: int,
    x: int,
    w: int,
    w_stride: int,
    y: int,
    scratch: int,
    scratch_bytes: int,
    stream: int,
    /,
) -> None: ...
def tv_denoise_vjp_weighted(
    dtype: str,
    batch: int,
    n: int,
    y: int,
    grad_y: int,
    rtol: float,
    grad_x: int,
    grad_w: int,
    stream: int,
    /,
) -> None: ...

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

# --- ot ----------------------------------------------------------------------------------
# Strides in elements (0 shares an operand across the batch); init_g may be 0. Waits for the
# stream; returns the per-problem statistics on the host.
def sinkhorn(
    dtype: str,
    batch: int,
    rows: int,
    cols: int,
    M: int,
    M_stride: int,
    a: int,
    a_stride: int,
    b: int,
    b_stride: int,
    init_g: int,
    init_stride: int,
    reg: float,
    tol: float,
    max_iter: int,
    check_every: int,
    method: SinkhornMethod,
    plan: int,
    f: int,
    g: int,
    stream: int,
    /,
) -> _SinkhornStats: ...

# --- optimize ----------------------------------------------------------------------------
# One native problem per GPU thread; options as for optkern._core.optimize_minimize_problem.
def optimize_minimize_problem_batch(
    dtype: str,
    kind: int,
    parameter: float,
    options: OptimizeSettings,
    x0: int,
    x: int,
    f: int,
    g: int,
    nit: int,
    nfev: int,
    status: int,
    batch: int,
    n: int,
    stream: int,
    /,
) -> None: ...
