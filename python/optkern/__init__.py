"""optkern: compiled kernels between numerical optimisation and deep learning.

Areas, one package each, all of the same shape (public functions in ``__init__.py``, argument
checks in ``_checks.py``, the two paths in ``_cpu.py`` and ``_cuda.py``):

- :mod:`optkern.linalg`: batched matmul (and batched tridiagonal solves) on CPU and GPU;
- :mod:`optkern.tv`: 1-D total variation denoising, exact and IRLS, with its exact backward;
- :mod:`optkern.givens`: approximating orthogonal matrices by few Givens rotations;
- :mod:`optkern.ot`: entropic optimal transport (batched Sinkhorn, its implicit gradient);
- :mod:`optkern.optimize`: L-BFGS, BFGS, modified Newton and gradient descent, also batched.

Optional, imported only on request: :mod:`optkern.torch` and :mod:`optkern.jax`, the
Sinkhorn and TV kernels as PyTorch autograd Functions and JAX custom_vjp functions.
"""

from optkern import givens, linalg, optimize, ot, tv
from optkern._backend import __version__, build_info, cuda_available
from optkern._cpp_package import cmake_dir, include_dir
from optkern._threads import get_num_threads, set_num_threads

__all__ = [
    "__version__",
    "build_info",
    "cmake_dir",
    "cuda_available",
    "get_num_threads",
    "include_dir",
    "set_num_threads",
    "linalg",
    "givens",
    "tv",
    "ot",
    "optimize",
]
