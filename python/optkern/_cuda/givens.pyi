# optkern._cuda.givens: the L1 descent engine with its loop on the device, and the product of
# a Givens sequence (python/bindings/cuda/bind_givens.cpp).
import numpy as np
from numpy.typing import NDArray

from optkern._core import _F
from optkern._core.givens import _GivensEngine

MAX_DIM: int  # the largest matrix the CUDA Givens engine takes

# u: device pointer to a C-contiguous (d, d) matrix; run() fills host arrays, as the CPU
# engines do.
class _GivensL1DescentCuda(_GivensEngine[_F]):
    def __init__(self, u: int, d: int, stream: int) -> None: ...

class GivensL1DescentCuda32(_GivensL1DescentCuda[np.float32]): ...
class GivensL1DescentCuda64(_GivensL1DescentCuda[np.float64]): ...

# A GivensSequence applied in place to x (batch, d, cols) on the device, layer by layer:
# i, j, cos, sin device pointers to the factors in layer order, layer_start host offsets.
def apply_layers(
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
