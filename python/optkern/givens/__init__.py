"""Approximating orthogonal matrices by few Givens rotations (Frerix & Bruna, ICML 2019).

* :func:`factorize`: L1 coordinate descent (Algorithm 1, CPU and CUDA), the greedy Frobenius
  baseline and structured elimination;
* :func:`jacobi`: the truncated Jacobi eigenvalue method (the graph-Fourier baseline);
* :class:`GivensSequence`: the factors, applied in O(N) per column;
* :func:`planted`, :func:`symmetrized_frobenius`, :func:`barabasi_albert`, :func:`laplacian`:
  the paper's test matrices, error metric and graphs.
"""

from optkern.givens._driver import GivensStep
from optkern.givens._factorize import factorize
from optkern.givens._graphs import barabasi_albert, laplacian
from optkern.givens._jacobi import jacobi
from optkern.givens._metrics import symmetrized_frobenius
from optkern.givens._planted import planted
from optkern.givens._sequence import GivensSequence

__all__ = [
    "GivensSequence",
    "GivensStep",
    "barabasi_albert",
    "factorize",
    "jacobi",
    "laplacian",
    "planted",
    "symmetrized_frobenius",
]
