"""No leaks: calling each kernel 10,000 times (small inputs), and raising 10,000 errors,
leaves the resident memory flat after a warm-up. Marked slow; plain ``python -m pytest``
(what CI runs) includes it (deselect with ``-m "not slow"``)."""

import gc
import os

import numpy as np
import pytest
from kernel_calls import KERNELS

from optkern import linalg, ot, tv
from optkern.optimize import minimize, problems

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not os.path.exists("/proc/self/statm"), reason="reads the resident size from /proc")]

CALLS = 10_000
THREADED_CALLS = 200
WARM_UP = 500
GROWTH_LIMIT = 2 * 2**20  # bytes


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def growth(call, calls=CALLS, warm_up=WARM_UP):
    """Resident memory growth over `calls` calls, after a warm-up that fills the caches
    (NumPy's, pymalloc's arenas, OpenMP's thread pool)."""
    for _ in range(warm_up):
        call()
    gc.collect()
    before = resident_bytes()
    for _ in range(calls):
        call()
    gc.collect()
    return resident_bytes() - before


# The one-large-problem variants of kernel_calls run the same code as the batched ones on
# small inputs: not repeated here.
LEAK_CHECKED = sorted(name for name in KERNELS if not name.endswith(("one problem",
                                                                      "one product")))


@pytest.mark.parametrize("name", LEAK_CHECKED)
def test_kernel_calls_do_not_leak(name, threads):
    """10,000 calls on one thread, then a few hundred on two (the threaded paths, whose
    start-up costs milliseconds when other processes hold the cores)."""
    kernel = KERNELS[name](0, "small")
    threads(1)
    grown = growth(kernel, CALLS)
    assert grown < GROWTH_LIMIT, f"{name}: resident memory grew by {grown / 2**20:.1f} MiB"
    threads(2)
    grown = growth(kernel, THREADED_CALLS, warm_up=50)
    assert grown < GROWTH_LIMIT, f"{name}, 2 threads: memory grew by {grown / 2**20:.1f} MiB"


def _raises(fn, *args, **kwargs):
    def call():
        try:
            fn(*args, **kwargs)
        except ValueError:
            return
        raise AssertionError("expected a ValueError")
    return call


def _objective_raises(x):
    raise ValueError("from the objective")


ERRORS = {
    "bmm shape": _raises(linalg.bmm, np.ones((2, 3)), np.ones((2, 3))),
    "tridiagonal singular": _raises(linalg.tridiagonal_solve, np.ones(3), np.zeros(3),
                                    np.zeros(3), np.ones(3)),
    "tv NaN": _raises(tv.denoise, np.array([1.0, np.nan]), 0.1),
    "sinkhorn reg": _raises(ot.sinkhorn, np.ones((3, 3)), reg=-1.0),
    "sinkhorn_vjp singular": _raises(ot.sinkhorn_vjp, np.eye(3) / 3, np.ones((3, 3)), 0.1),
    "minimize objective raises": _raises(minimize, _objective_raises, np.ones(3)),
    "minimize bad gradient": _raises(minimize, lambda x: (0.0, np.ones(5)), np.ones(3)),
    "problem size": _raises(problems.rosenbrock, 1),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error_paths_do_not_leak(name):
    """Errors raised in C++ (and exceptions carried through the C++ loop from Python) free
    what the call had allocated."""
    grown = growth(ERRORS[name], CALLS // 2)
    assert grown < GROWTH_LIMIT, f"{name}: resident memory grew by {grown / 2**20:.1f} MiB"
