"""optkern in the child of a fork (multiprocessing's "fork" start method, torch DataLoader
workers): after the parent has run a threaded kernel, the same kernel in a forked child
must return, with the parent's result. GNU libgomp's thread pool does not survive fork, so
optkern runs every kernel on one thread in a fork child (cpp/src/threads.cpp,
common/parallel_guard.hpp); without that, the child waits forever for the parent's threads.

Every threaded kernel of tests/kernel_calls.py is run in the parent with two threads, then
in a child forked after it, with a timeout that turns a hang into a failure.
"""

import multiprocessing
import sys

import numpy as np
import pytest
from kernel_calls import KERNELS, run, same_bits

import optkern

pytestmark = [
    pytest.mark.skipif(
        sys.platform == "win32" or "fork" not in multiprocessing.get_all_start_methods(),
        reason="needs fork()"),
    # Forking a process that has run threads is what these tests do on purpose (JAX, imported
    # by other tests, warns about it).
    pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning"),
]

CHILD_SECONDS = 60
# One problem split over the team: partial sums combine in an order that depends on the
# thread count (tests/reliability/test_threads.py), and the child runs on one thread.
NOT_BITWISE_ACROSS_THREAD_COUNTS = {"ot.sinkhorn one problem", "ot.sinkhorn_vjp one problem"}


def in_forked_child(function, *args):
    """function(*args) in a child forked now; a hang fails after CHILD_SECONDS."""
    pool = multiprocessing.get_context("fork").Pool(1)
    try:
        return pool.apply_async(function, args).get(timeout=CHILD_SECONDS)
    except multiprocessing.TimeoutError:
        pytest.fail(f"{function.__name__}{args} hung in a forked child")
    finally:
        pool.terminate()
        pool.join()


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_runs_in_a_fork_child_after_the_parent_used_threads(name, threads):
    threads(2)
    parent = run(name, 3, "batch")  # a size that starts the thread team (20-60 ms)
    child = in_forked_child(run, name, 3, "batch")
    if name in NOT_BITWISE_ACROSS_THREAD_COUNTS:
        for x, y in zip(parent, child):
            np.testing.assert_allclose(y, x, rtol=1e-10, atol=1e-300)
    else:
        assert same_bits(parent, child), f"{name}: the fork child's result differs"
    assert optkern.get_num_threads() == 2  # the parent keeps its threads


def python_objective_batch(seed):
    """minimize_batch with a Python objective (the lock-step batch, threaded per round)."""
    rng = np.random.default_rng(seed)
    scale = rng.uniform(1, 3, (64, 1))

    def fun(X):
        return 0.5 * (scale * X * X).sum(1), scale * X

    res = optkern.optimize.minimize_batch(fun, rng.standard_normal((64, 16)), method="lbfgs")
    return res.x, res.fun, res.nit


def test_minimize_batch_with_a_python_objective_in_a_fork_child(threads):
    threads(2)
    parent = python_objective_batch(1)
    child = in_forked_child(python_objective_batch, 1)
    assert same_bits(parent, child)


def test_torch_adapter_in_a_fork_child():
    torch = pytest.importorskip("torch")
    import optkern.torch as okt

    M = torch.rand(8, 64, 64, dtype=torch.float64)
    parent = okt.sinkhorn(M, reg=0.5)
    child = in_forked_child(_torch_sinkhorn, M.numpy())
    np.testing.assert_allclose(child, parent.numpy(), rtol=1e-12)


def _torch_sinkhorn(M):
    import torch

    import optkern.torch as okt

    return okt.sinkhorn(torch.from_numpy(M), reg=0.5).numpy()


def test_a_fork_child_reports_one_thread():
    """The child's kernels run on one thread; get_num_threads says so, and set_num_threads
    cannot raise it there (the pool it would need is gone)."""
    assert in_forked_child(_child_threads) == (1, 1)


def _child_threads():
    before = optkern.get_num_threads()
    optkern.set_num_threads(4)
    return before, optkern.get_num_threads()
