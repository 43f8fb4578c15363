# optkern._core.ot: entropic optimal transport, balanced, unbalanced and between point clouds
# (python/bindings/core/bind_ot.cpp, bind_ot_extra.cpp).
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from optkern._core import _Enum, _FloatArray

# The constants shared with Python (cpp/include/optkern/ot/sinkhorn_step.hpp).
MASS_RTOL: float
MAX_COST_OVER_REG: float
PIVOT_RTOL: float

class SinkhornMethod(_Enum):  # SinkhornMethod in cpp/include/optkern/ot/method.hpp
    auto: ClassVar[SinkhornMethod]
    plain: ClassVar[SinkhornMethod]
    log: ClassVar[SinkhornMethod]
    __members__: ClassVar[dict[str, SinkhornMethod]]

class PointsCost(_Enum):  # cpp/include/optkern/ot/points.hpp
    sqeuclidean: ClassVar[PointsCost]
    euclidean: ClassVar[PointsCost]
    __members__: ClassVar[dict[str, PointsCost]]

class UnbalancedRegType(_Enum):  # cpp/include/optkern/ot/unbalanced.hpp
    kl: ClassVar[UnbalancedRegType]
    entropy: ClassVar[UnbalancedRegType]
    __members__: ClassVar[dict[str, UnbalancedRegType]]

# Per problem: (n_iter, marginal_error, cost, value, converged, method used: 1 plain, 2 log).
_SinkhornStats = tuple[
    NDArray[np.int64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.bool_],
    NDArray[np.int64],
]

# M: (1 or B, m, n), a: (1 or B, m), b: (1 or B, n), init_g: None or (1 or B, n); plan, f, g
# preallocated (B, m, n), (B, m), (B, n).
def sinkhorn(
    M: _FloatArray,
    a: _FloatArray,
    b: _FloatArray,
    init_g: _FloatArray | None,
    reg: float,
    tol: float,
    max_iter: int,
    check_every: int,
    method: SinkhornMethod,
    num_threads: int,
    plan: _FloatArray,
    f: _FloatArray,
    g: _FloatArray,
    /,
) -> _SinkhornStats: ...

# Returns each problem's status: 0 solved, 1 singular KKT system.
def sinkhorn_vjp(
    P: _FloatArray,
    grad_P: _FloatArray,
    reg: float,
    num_threads: int,
    grad_M: _FloatArray,
    grad_a: _FloatArray,
    grad_b: _FloatArray,
    /,
) -> NDArray[np.int8]: ...

# Unbalanced Sinkhorn (issue 16). M: (1 or B, m, n), a: (1 or B, m), b: (1 or B, n); plan
# (B, m, n) of M's dtype, F (B, m), G (B, n) float64.
# Returns (n_iter, last step, converged, the SinkhornMethod value that ran) per problem.
def sinkhorn_unbalanced(
    M: _FloatArray,
    a: _FloatArray,
    b: _FloatArray,
    reg: float,
    rho_a: float,
    rho_b: float,
    reg_type: UnbalancedRegType,
    method: SinkhornMethod,
    tol: float,
    max_iter: int,
    num_threads: int,
    plan: _FloatArray,
    F: NDArray[np.float64],
    G: NDArray[np.float64],
    /,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.bool_], NDArray[np.int32]]: ...

# Point clouds, cost on the fly (issue 16). x (m, d), y (n, d), a (m), b (n) of one dtype;
# init_g None or (n,) float64; f (m), g (n) float64.
# Returns (n_iter, marginal_error, cost, value, converged).
def sinkhorn_points(
    x: _FloatArray,
    y: _FloatArray,
    a: _FloatArray,
    b: _FloatArray,
    init_g: NDArray[np.float64] | None,
    reg: float,
    cost: PointsCost,
    tol: float,
    max_iter: int,
    num_threads: int,
    f: NDArray[np.float64],
    g: NDArray[np.float64],
    /,
) -> tuple[int, float, float, float, bool]: ...

# out (m,) = P v for v (n,) (float64); P^T u: swap (x, f) with (y, g).
def sinkhorn_points_apply(
    x: _FloatArray,
    y: _FloatArray,
    f: NDArray[np.float64],
    g: NDArray[np.float64],
    reg: float,
    cost: PointsCost,
    v: NDArray[np.float64],
    out: NDArray[np.float64],
    num_threads: int,
    /,
) -> None: ...
