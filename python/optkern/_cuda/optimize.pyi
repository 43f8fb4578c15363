# optkern._cuda.optimize: batches of native problems, one per GPU thread
# (python/bindings/cuda/bind_optimize.cpp).
from optkern._core.optimize import OptimizeSettings

# Options as for optkern._core.optimize.minimize_problem_batch. Pointers are device
# addresses; lower and upper (B x n, as x0) run L-BFGS-B, 0 and 0 for no bounds.
def minimize_problem_batch(
    dtype: str,
    kind: int,
    parameter: float,
    options: OptimizeSettings,
    x0: int,
    lower: int,
    upper: int,
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
