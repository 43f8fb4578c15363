# optkern._cuda.ot: Sinkhorn on a device (python/bindings/cuda/bind_ot.cpp).
from optkern._core.ot import SinkhornMethod, _SinkhornStats

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
