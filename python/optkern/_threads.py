"""How many threads optkern's CPU kernels use: :func:`get_num_threads` and
:func:`set_num_threads`."""

from __future__ import annotations

from optkern._backend import _core
from optkern._validation import MAX_THREADS, check_number


def get_num_threads() -> int:
    """The number of threads optkern's CPU kernels use.

    Returns
    -------
    int
        The count set by :func:`set_num_threads`, else ``OMP_NUM_THREADS``, else one per
        core; always 1 in the child of a ``fork()`` (multiprocessing's "fork" start method,
        torch DataLoader workers), where the OpenMP thread pool cannot be used.

    Examples
    --------
    >>> import optkern
    >>> optkern.get_num_threads() >= 1
    True
    """
    return _core.num_threads()


def set_num_threads(n: int) -> int:
    """Set the number of threads optkern's CPU kernels use; returns the previous value.

    Parameters
    ----------
    n : int
        The thread count for every later call, from any Python thread, at most 1024.
        ``n < 1`` restores the default (``OMP_NUM_THREADS``, or one per core).

    Returns
    -------
    int
        The count in effect before the call.

    Raises
    ------
    ValueError
        If n is not an integer (a bool, a float or a string) or is above 1024.

    Examples
    --------
    >>> import optkern
    >>> old = optkern.set_num_threads(1)
    >>> optkern.get_num_threads()
    1
    >>> _ = optkern.set_num_threads(old)
    """
    n = check_number(n, "n", integer=True, low=-float("inf"), high=MAX_THREADS)
    return _core.set_num_threads(max(n, 0))  # any n < 1: the default
