# optkern._core._testing: hooks into the core for optkern's own tests (not its API;
# python/bindings/core/bind_testing.cpp).
import numpy as np
from numpy.typing import NDArray

from optkern._core import _F

# (direction, path "cholesky" | "tridiagonal" | "eigen", eigenvalues floored); h is (n, n),
# or the diagonal then the off-diagonal (2n - 1) when tridiagonal.
def optimize_modified_newton_step(
    h: NDArray[np.float64], g: NDArray[np.float64], floor: float, tridiagonal: bool, /
) -> tuple[NDArray[np.float64], str, int]: ...

# (decrease, tangent) of the best rotation of rows a and b in the L1 norm.
def givens_best_l1_rotation(a: NDArray[_F], b: NDArray[_F]) -> tuple[float, float]: ...
