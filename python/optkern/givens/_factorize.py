"""factorize: approximate an orthogonal matrix by a short product of Givens rotations."""

from __future__ import annotations

from typing import Any, Callable

from optkern import _docs, _gpu
from optkern._validation import check_device, check_number, fail, is_gpu_array, resolve_device
from optkern.givens import _checks, _cpu, _cuda, _stack
from optkern.givens._driver import GivensStep
from optkern.givens._sequence import GivensSequence

__all__ = ["factorize"]

METHODS = ("l1", "greedy", "elimination", "beam")


@_docs.fill
def factorize(
    U: Any,
    n_factors: int | None = None,
    *,
    tol: float | None = None,
    method: str = "l1",
    beam_width: int | None = None,
    layered: bool = False,
    device: str = "cpu",
    callback: Callable[[GivensStep], Any] | None = None,
    progress: bool = False,
    check: bool = True,
    stream: Any = None,
) -> GivensSequence:
    """Approximate an orthogonal matrix by a product of few Givens rotations.

    Returns a sequence of rotations ``G_1 ... G_N`` and the signed permutation ``P`` that
    fits U best, so that ``seq.to_dense() = G_1 ... G_N P`` approximates U itself:
    ``||U - seq.to_dense()||_F / sqrt(d)`` equals
    ``symmetrized_frobenius(U, seq.rotations.to_dense(), normalize=True)``. Every method is
    greedy: step k picks a factor ``G_k`` and replaces the working matrix V (at first U) by
    ``G_k^T V``; P is the signed permutation nearest the final V.

    Parameters
    ----------
    U : array_like, shape (d, d)
        An orthogonal matrix, d >= 2; float32 and float64 are kept (ints become float64).
        With ``device="cuda"`` it may also be a CuPy array or a torch CUDA tensor.
        A stack (..., d, d), or a dask array, gives one sequence per matrix (see Returns).
    n_factors : int, optional
        The most factors to return. At least one of n_factors and tol must be given (a greedy
        run has no natural length), except for ``method="elimination"``, whose exact
        factorization has ``d (d - 1) / 2`` factors. With tol alone, ``d (d - 1) / 2`` (which
        factors any rotation exactly) bounds the run.
    tol : float, optional
        Stop at the first step where the normalized error
        ``||U - seq.to_dense()||_F / sqrt(d)`` is at most tol (>= 0). The error is checked
        after each chunk of steps (O(d^2), chunks grow until a chunk takes about 0.05 s) and
        the first step inside the chunk that meets tol is found by bisection.
    method : {"l1", "greedy", "elimination", "beam"}
        ``"l1"``: Algorithm 1 of Frerix & Bruna (ICML 2019), coordinate descent of the
        entrywise L1 norm of V: each step takes the pair (i, j) and the angle with the largest
        decrease of ``||G^T V||_1``, the angle in (-pi/4, pi/4]. ``"greedy"``: the Frobenius
        baseline, the factor that most decreases ``||V - I||_F``. ``"elimination"``:
        structured elimination (Givens QR) in the paper's order (eq. 2), exact with
        ``d (d - 1) / 2`` factors. ``"beam"``: beam search over ``"l1"`` (the improvement the
        paper suggests): keeps the beam_width best partial sequences by L1 norm, each
        expanded by its beam_width best pairs with the same incremental updates; identical to
        ``"l1"`` for beam_width 1. Its callback sees the final sequence's steps after the
        search.
    beam_width : int, optional
        The number of sequences ``"beam"`` keeps (default 4, at most 4096); only with
        method="beam". Time and memory grow as beam_width (each beam holds three d x d
        arrays).
    layered : bool
        ``"l1"`` only: when the best pair would open a new layer of disjoint pairs (see
        :meth:`GivensSequence.layers`), take instead the best pair that fits in the layers
        so far if its decrease is at least 0.8 times the best's. Keeps the depth low (a
        shallower circuit to apply) at a small cost in error.
    device : {"cpu", "cuda", "auto"}
        Where ``"l1"`` runs; the other methods run on the CPU. On CUDA the whole loop stays on
        the device; the trajectory comes back in chunks.
    callback : callable, optional
        Called as ``callback(step)`` with a :class:`GivensStep` after every step, in order;
        returning True ends the sequence at that step.
    progress : bool
        Show the factors found so far: a tqdm bar if tqdm is installed, else a line on
        stderr. The engine then runs in chunks of steps (no cost to the result).
    check : bool
        Check that U is orthogonal (``max |U^T U - I|`` within a thousand ulps of the dtype
        times sqrt(d)). ``check=False`` skips it for callers who know.
    {stream}

    Returns
    -------
    GivensSequence
        The factors in order, ``theta`` in U's dtype, with ``permutation`` and ``signs``.
        ``seq.stopped_by`` says which rule ended it: ``"n_factors"``, ``"tol"``,
        ``"converged"`` (no pair decreases the objective by more than rounding noise for
        ``"l1"`` and ``"greedy"``, the matrix is reduced for ``"elimination"``) or
        ``"callback"``. For a stack (..., d, d): an object ndarray of shape (...) holding
        one sequence per matrix, each factorized with the same arguments (a dask array of
        them for a dask stack, which takes no callback or progress).

    Raises
    ------
    ValueError
        If U is not a finite square matrix of size >= 2, not orthogonal (with check=True),
        n_factors is negative or not an integer, tol is negative or not a finite number,
        neither n_factors nor tol is given (other than for "elimination"), or method or device
        is unknown.

    Notes
    -----
    ``"l1"`` finds each pair's exact best angle in O(d) expected time: every column gives one
    candidate angle (Proposition 1); the candidates are bucketed by tangent, bounds on every
    bucket discard those that cannot hold the minimum, and the rest are sorted and swept with
    running sums. After a step only the 2(d - 2) + 1 pairs that touch rows i or j are
    re-scored (threaded over ``optkern.get_num_threads()`` threads), and the best pair comes
    from per-row maxima. Ties are broken deterministically: the largest decrease, then the
    smallest i, then the smallest j; within a pair the smallest L1 norm, then the smallest
    angle. A pair whose decrease is below ``8 sqrt(d) eps`` of its L1 norm counts as no
    decrease.

    Examples
    --------
    >>> import numpy as np, optkern
    >>> U = optkern.givens.planted(16, 10, np.random.default_rng(0))
    >>> seq = optkern.givens.factorize(U, 40)
    >>> bool(np.linalg.norm(U - seq.to_dense()) < 1e-12)   # the 10 planted rotations
    True
    >>> seq.stopped_by, seq.depth <= len(seq)   # which rule ended it; layers of disjoint pairs
    ('n_factors', True)
    >>> rough = optkern.givens.factorize(U, tol=0.2)
    >>> rough.stopped_by, bool(np.linalg.norm(U - rough.to_dense()) / 4 <= 0.2)
    ('tol', True)
    >>> exact = optkern.givens.factorize(U, method="elimination")
    >>> len(exact), bool(np.abs(exact.to_dense() - U).max() < 1e-12)
    (120, True)
    """
    if _stack.is_stack(U):  # (..., d, d) or a dask array: one sequence per matrix
        return _stack.factorize_stack(factorize, **locals())
    if method not in METHODS:
        fail("method", "'l1', 'greedy', 'elimination' or 'beam'", repr(method))
    layered = _checks.check_flag(layered, "layered")
    if layered and method != "l1":
        fail("layered", f"False for method={method!r} (only 'l1' has a layered choice)",
             repr(layered))
    width = 0  # the beam's width (method="beam" only)
    if method == "beam":
        width = 4 if beam_width is None else int(check_number(beam_width, "beam_width", low=1,
                                                              high=4096, integer=True))
    elif beam_width is not None:
        fail("beam_width", f"None for method={method!r} (it sets method='beam')",
             repr(beam_width))
    check_device(device)
    if callback is not None and not callable(callback):
        fail("callback", "a callable or None", repr(callback))
    progress = _checks.check_flag(progress, "progress")
    check = _checks.check_flag(check, "check")
    if tol is not None:
        try:
            tol = float(check_number(tol, "tol", low=0.0))
        except OverflowError:  # an int beyond float's range
            fail("tol", "a finite real number >= 0", repr(tol))
    where = resolve_device(device, [(U, "U")], stream)
    if where == "cuda":
        if method != "l1":
            fail("device", f"'cpu' for method={method!r} (only 'l1' runs on CUDA)",
                 repr(device))
        if layered:
            fail("device", "'cpu' for layered=True (the CUDA engine has no layered choice)",
                 repr(device))
        with _gpu.use_stream(stream):
            return _cuda.factorize_l1(U, n_factors, callback, progress, check, tol)
    if is_gpu_array(U):
        fail("U", "a host array for device='cpu'", "an array on a CUDA device")
    return _cpu.factorize(U, method, n_factors, width, layered,
                          callback, progress, check, tol)
