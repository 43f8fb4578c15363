# optkern._cuda.tv: 1-D total variation on a device (python/bindings/cuda/bind_tv.cpp).
from typing import ClassVar

from optkern._core import _Enum

# Device scratch the caller allocates (so that it can come from the caller's pool).
def denoise_scratch_bytes(batch: int, n: int, /) -> int: ...
def denoise_irls_scratch_bytes(batch: int, n: int, /) -> int: ...

# How the exact solver and the backward map signals to threads (cuda::TvMapping).
class TvMapping(_Enum):
    auto: ClassVar[TvMapping]
    staged: ClassVar[TvMapping]
    direct: ClassVar[TvMapping]
    __members__: ClassVar[dict[str, TvMapping]]

# lam: float64 device array, lam_stride 0 (shared) or 1.
def denoise(
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
def denoise_irls(
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
def denoise_vjp(
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
def denoise_weighted_scratch_bytes(batch: int, n: int, /) -> int: ...
def denoise_weighted(
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
def denoise_vjp_weighted(
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
