# optkern._cuda.optimize: batches of native problems, one per GPU thread
# (python/bindings/cuda/bind_optimize.cpp).
from optkern._core.optimize import OptimizeSettings

# Options as for optkern._core.optimize.minimize_problem_batch.
def minimize_problem_batch(
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
