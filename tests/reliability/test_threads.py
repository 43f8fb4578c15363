"""Threads and the GIL: every kernel is safe to call from many Python threads at once, runs
its compute without holding the GIL, and gives reproducible results. tests/README.md
("Threads and reproducibility") says which results are bitwise equal across thread counts."""

import os
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from kernel_calls import KERNELS, run, same_bits
from timing import Missed, wall_clock

PYTHON_THREADS = 8

# One large problem split over threads: partial sums are combined in an order that depends
# on the thread count, so results agree to rounding only. Every other kernel gives each
# result element to one thread, in a fixed order, and is bitwise reproducible.
NOT_BITWISE_ACROSS_THREAD_COUNTS = {"ot.sinkhorn one problem", "ot.sinkhorn_vjp one problem"}

# The Python objective takes the GIL for every evaluation, by design.
HOLDS_THE_GIL = {"optimize.minimize python"}


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_concurrent_calls_equal_serial_calls(name):
    """8 Python threads call the kernel at once, each on its own input (and each call
    threaded inside as well): every result is bitwise the serial one."""
    calls = [KERNELS[name](seed, "small") for seed in range(2 * PYTHON_THREADS)]
    serial = [call() for call in calls]
    with ThreadPoolExecutor(PYTHON_THREADS) as pool:
        concurrent = list(pool.map(lambda call: call(), calls))
    for seed, (a, b) in enumerate(zip(serial, concurrent)):
        assert same_bits(a, b), f"{name}: input {seed} differs when run concurrently"
    assert not same_bits(serial[0], serial[1]), "the inputs should differ"


@pytest.mark.parametrize("name", sorted(set(KERNELS) - HOLDS_THE_GIL))
def test_the_gil_is_released_during_compute(name, threads):
    """A pure-Python thread keeps counting while the kernel computes: it could not take a
    single step if the kernel held the GIL. (Unlike a wall-time comparison, this holds on a
    machine whose cores are busy with other work.)"""
    threads(1)
    kernel = KERNELS[name](1, "batch")
    kernel()  # warm up
    count = [0]
    stop = threading.Event()

    def counter():
        while not stop.is_set():
            count[0] += 1

    thread = threading.Thread(target=counter)
    thread.start()
    try:
        best = 0
        for _ in range(3):
            before = count[0]
            kernel()
            best = max(best, count[0] - before)
    finally:
        stop.set()
        thread.join()
    assert best >= 100, f"{name}: the counting thread advanced only {best} times"


def _best_times(calls, rounds):
    """(serial, concurrent) best wall times of two calls, made one after the other or from
    two Python threads at once, interleaved over `rounds` rounds."""
    serial, concurrent = [], []
    with ThreadPoolExecutor(2) as pool:
        for _ in range(rounds):
            start = time.perf_counter()
            for call in calls:
                call()
            serial.append(time.perf_counter() - start)
            start = time.perf_counter()
            list(pool.map(lambda call: call(), calls))
            concurrent.append(time.perf_counter() - start)
    return min(serial), min(concurrent)


def _repeated(call, times):
    def run():
        for _ in range(times):
            call()
    return run


_DATA = os.urandom(1 << 20)


def _control():
    """Work known to run without the GIL (zlib releases it), for calibration."""
    for _ in range(2):
        zlib.compress(_DATA, 6)
    return ()


_FP_DATA = np.linspace(-1.0, 1.0, 1 << 15)  # 256 KiB: stays in cache, so the FPU is the limit


def _fp_control():
    """Floating-point work without the GIL (NumPy's SIMD exp): on a VM whose two vCPUs are
    hyperthreads of one core, or share it with a neighbour's FP load, this overlaps poorly
    while zlib's integer work still does (CI measured bmm at 0.90 with zlib at 0.5)."""
    out = np.empty_like(_FP_DATA)
    for _ in range(100):
        np.exp(_FP_DATA, out=out)
    return ()


def _overlaps(times):
    serial, concurrent = times
    return concurrent <= 0.8 * serial


@pytest.fixture(scope="module")
def free_second_core():
    """Whether two threads that release the GIL overlap on this machine right now: not when
    other processes keep both cores busy (the overlap tests then skip instead of failing)."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs at least 2 cores")
    control = _best_times([_control, _control], 3)
    if not _overlaps(control):
        pytest.skip(f"no free second core: zlib, which releases the GIL, overlapped only "
                    f"to {control[1] / control[0]:.2f}")


# The wall-time overlap check is for batch work (the requirement). Single problems
# (one product, one Sinkhorn problem, one factorization, one sequence) are checked for
# releasing the GIL by test_the_gil_is_released_during_compute above; their overlap measured here
# was at the mercy of the shared VM's scheduler (ratios 0.5-1.2 from run to run).
SINGLE_PROBLEM = {name for name in KERNELS if " one " in name or name.startswith("givens")}


@pytest.mark.parametrize("name", sorted(set(KERNELS) - HOLDS_THE_GIL - SINGLE_PROBLEM))
@wall_clock
def test_python_threads_overlap(name, threads, free_second_core):
    """With one optkern thread per call, two Python threads finish two batch calls in
    clearly less wall time than one thread doing both (0.5 of it is perfect overlap, 1 is
    none)."""
    threads(1)
    calls = [KERNELS[name](seed, "batch") for seed in (0, 1)]
    start = time.perf_counter()
    calls[0]()  # warm up
    # Calls of a few ms are at the mercy of the scheduler on a shared 2-core machine: repeat
    # each so that one measurement takes about 50 ms.
    repeats = max(1, int(0.05 / max(time.perf_counter() - start, 1e-4)))
    calls = [_repeated(call, repeats) for call in calls]
    times = _best_times(calls, 3)
    if _overlaps(times):
        return
    busy = None  # is the second core still free (for FP work), right now?
    for control, what in ((_control, "zlib"), (_fp_control, "NumPy's exp")):
        serial, concurrent = _best_times([control, control], 3)
        if not _overlaps((serial, concurrent)):
            busy = f"the second core got busy: {what} overlapped only to {concurrent / serial:.2f}"
            break
    serial, concurrent = times
    raise Missed(f"{name}: two threads took {concurrent * 1e3:.1f} ms for what one thread does "
                 f"in {serial * 1e3:.1f} ms (ratio {concurrent / serial:.2f}, bound 0.8)", busy)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_repeated_calls_are_bitwise_equal(name, threads):
    """The same input and the same thread count give the same bits."""
    threads(2)
    first = run(name, 3, "small")
    for _ in range(3):
        assert same_bits(run(name, 3, "small"), first)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_across_thread_counts(name, threads):
    """Bitwise equal results for 1, 2, 3 and 4 threads, except for the one-large-problem
    kernels listed above, which agree to rounding."""
    kernel = KERNELS[name](5, "small" if name in HOLDS_THE_GIL else "batch")
    results = {}
    for count in (1, 2, 3, 4):
        threads(count)
        results[count] = kernel()
    for count in (2, 3, 4):
        if name in NOT_BITWISE_ACROSS_THREAD_COUNTS:
            for a, b in zip(results[count], results[1]):
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        else:
            assert same_bits(results[count], results[1]), f"{name}: {count} threads != 1"
