"""optkern: compiled kernels between numerical optimisation and deep learning.

Areas (one module each): :mod:`optkern.linalg` (batched matmul on CPU and GPU).
:mod:`optkern.optimize` (L-BFGS, BFGS, modified Newton and gradient descent, also batched).
"""

from optkern._backend import (
    __version__,
    build_info,
    cuda_available,
    get_num_threads,
    set_num_threads,
)
from optkern import linalg
from optkern import optimize

__all__ = [
    "__version__",
    "build_info",
    "cuda_available",
    "get_num_threads",
    "set_num_threads",
    "linalg",
    "optimize",
]
