# optkern._core.tv: 1-D and 2-D total variation (python/bindings/core/bind_tv.cpp).
import numpy as np
from numpy.typing import NDArray

from optkern._core import _FloatArray, _IndexArray

# x, y, grad_*: (batch, n) rows; lam: float64 of shape (1,) (shared) or (batch,).
def denoise(x: _FloatArray, lam: NDArray[np.float64], y: _FloatArray, /) -> None: ...
# tv.denoise's common call: the new array, or None for any call that is not a native float32/
# float64 C-contiguous aligned non-empty ndarray with a Python float or int lam in [0, DBL_MAX].
def denoise_common(x: object, lam: object, /) -> _FloatArray | None: ...
def denoise_irls(
    x: _FloatArray,
    lam: NDArray[np.float64],
    tol: float,
    max_iter: int,
    y: _FloatArray,
    nit: _IndexArray,
    change: NDArray[np.float64],
    /,
) -> None: ...
def denoise_vjp(
    y: _FloatArray,
    grad_y: _FloatArray,
    rtol: float,
    grad_x: _FloatArray,
    grad_lam: NDArray[np.float64],
    /,
) -> None: ...

# One weight per edge: w float64 (1, n - 1) (shared) or (batch, n - 1); grad_w (batch, n - 1).
def denoise_weighted(x: _FloatArray, w: NDArray[np.float64], y: _FloatArray, /) -> None: ...
def denoise_irls_weighted(
    x: _FloatArray,
    w: NDArray[np.float64],
    tol: float,
    max_iter: int,
    y: _FloatArray,
    nit: _IndexArray,
    change: NDArray[np.float64],
    /,
) -> None: ...
def denoise_vjp_weighted(
    y: _FloatArray,
    grad_y: _FloatArray,
    rtol: float,
    grad_x: _FloatArray,
    grad_w: NDArray[np.float64],
    /,
) -> None: ...

# Images x, y, grad_*: (batch, h, w); lam (1,) or (batch,); nit, gap, grad_lam (batch,).
def denoise_2d(
    x: _FloatArray,
    lam: NDArray[np.float64],
    isotropic: bool,
    tol: float,
    max_iter: int,
    y: _FloatArray,
    nit: _IndexArray,
    gap: NDArray[np.float64],
    /,
) -> None: ...
def denoise_2d_vjp(
    y: _FloatArray,
    grad_y: _FloatArray,
    rtol: float,
    grad_x: _FloatArray,
    grad_lam: NDArray[np.float64],
    /,
) -> None: ...
