"""Smooth optimisation: L-BFGS with a strong Wolfe line search (L-BFGS-B with bounds), dense
BFGS, modified Newton and gradient descent, for one problem (:func:`minimize`, with SciPy's
call surface) or many independent ones (:func:`minimize_batch`).

The loops run in C++ (cpp/include/optkern/optimize/, header-only, usable from C++). A Python
objective is called once per evaluation; the native problems of :mod:`.problems` run with
no Python in the loop, threaded over a batch or one problem per thread on a CUDA device.
Results have the fields of :class:`scipy.optimize.OptimizeResult`.
"""

from optkern.optimize import problems
from optkern.optimize._batch import minimize_batch
from optkern.optimize._minimize import minimize
from optkern.optimize._result import BatchResult, OptimizeResult
from optkern.optimize.problems import Problem

__all__ = ["minimize", "minimize_batch", "OptimizeResult", "BatchResult", "Problem", "problems"]
