# optkern._cuda.ot: Sinkhorn on a device, balanced, unbalanced and between point clouds
# (python/bindings/cuda/bind_ot.cpp).
import numpy as np
import numpy.typing as npt

from optkern._core.ot import PointsCost, SinkhornMethod, UnbalancedRegType, _SinkhornStats

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

# Unbalanced Sinkhorn in the log domain; plan, f, g of the dtype. Returns (n_iter, step,
# converged, method that ran as a SinkhornMethod value, cost, value) per problem.
def sinkhorn_unbalanced(
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
    reg: float,
    rho_a: float,
    rho_b: float,
    reg_type: UnbalancedRegType,
    method: SinkhornMethod,
    tol: float,
    max_iter: int,
    plan: int,
    f: int,
    g: int,
    stream: int,
    /,
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.bool_],
    npt.NDArray[np.int32],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]: ...

# Sinkhorn between point clouds (x: rows x dim, y: cols x dim per problem); init_g (may be
# 0), f and g float64. Returns (n_iter, marginal_error, cost, value, converged) per problem.
def sinkhorn_points(
    dtype: str,
    batch: int,
    rows: int,
    cols: int,
    dim: int,
    x: int,
    x_stride: int,
    y: int,
    y_stride: int,
    a: int,
    a_stride: int,
    b: int,
    b_stride: int,
    init_g: int,
    init_stride: int,
    reg: float,
    cost: PointsCost,
    tol: float,
    max_iter: int,
    f: int,
    g: int,
    stream: int,
    /,
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.bool_],
]: ...
