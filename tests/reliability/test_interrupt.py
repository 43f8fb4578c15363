"""Ctrl-C stops long runs within about a second and leaves nothing corrupted.

Each test starts a call that would run for minutes or hours (tol=0, max_iter=1e9, d=1024),
sends SIGINT to the process from a timer thread after 0.3 s, and expects KeyboardInterrupt
soon after; then the same function must give a correct result on a small problem. The C++
loops poll Python's signal handlers every 50 ms (python/bindings/common/signal_check.hpp).
"""

import os
import signal
import sys
import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest
from reference import givens as givens_ref
from reference import sinkhorn as sinkhorn_ref
from reference import tv as tv_ref
from timing import Missed, wall_clock

import optkern
from optkern.optimize import minimize, minimize_batch, problems

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="sends SIGINT to its own process (POSIX)"
)

DELAY = 0.3  # seconds before the signal
LATENCY = 1.0  # the most seconds from the signal to KeyboardInterrupt


@contextmanager
def interrupted_after(delay=DELAY, latency=LATENCY):
    """Expects the block to end in KeyboardInterrupt within `latency` s of a SIGINT sent
    `delay` s after it starts (the block must run longer than that on its own)."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT does not raise KeyboardInterrupt here")
    sent = []

    def send():
        sent.append((time.perf_counter(), time.process_time()))
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(delay, send)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            yield
        caught, cpu = time.perf_counter(), time.process_time()
    finally:
        timer.cancel()
        timer.join()
    assert sent, "the call ended before the signal was sent"
    late = caught - sent[0][0]
    if late >= latency:
        # The process got less than half a core between the signal and its end, or more
        # processes wanted to run than there are cores: other work had the machine.
        share, load = (cpu - sent[0][1]) / late, os.getloadavg()[0]
        busy = (f"the process had {share:.2f} of a core, load average {load:.1f} on "
                f"{os.cpu_count()} cores") if share < 0.5 or load > (os.cpu_count() or 1) else None
        raise Missed(f"KeyboardInterrupt came {late:.2f} s after SIGINT (bound {latency} s)",
                     busy)


def haar(d, rng):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


# --- Givens ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["l1", "greedy", "elimination"])
@wall_clock
def test_givens_factorization_of_d1024(method, rng):
    # Any matrix keeps the engines busy (check=False); elimination's O(d) steps need d = 2048.
    d = 2048 if method == "elimination" else 1024
    U = rng.standard_normal((d, d)) / np.sqrt(d)
    with interrupted_after():
        optkern.givens.factorize(U, d * (d - 1) // 2, method=method, check=False)
    # Then a normal run, against the brute-force reference.
    small = haar(8, rng)
    seq = optkern.givens.factorize(small, 10, method=method)
    if method == "l1":
        i, j, theta = givens_ref.l1_coordinate_descent(small, 10)
        steps = list(zip(i, j, theta))
    elif method == "greedy":
        steps = givens_ref.frobenius_greedy(small, 10)
    else:
        steps = givens_ref.elimination(small)[0][:10]
    expect_steps(seq, steps)


def expect_steps(seq, steps):
    i, j, theta = (np.array(x) for x in zip(*steps))
    np.testing.assert_array_equal(seq.i, i)
    np.testing.assert_array_equal(seq.j, j)
    np.testing.assert_allclose(seq.theta, theta, rtol=1e-9, atol=1e-12)


@wall_clock
def test_givens_jacobi(rng):
    A = rng.standard_normal((2048, 2048))
    with interrupted_after():
        optkern.givens.jacobi(A + A.T, 10**6)
    B = rng.standard_normal((8, 8))
    expect_steps(optkern.givens.jacobi(B + B.T, 5), givens_ref.jacobi(B + B.T, 5)[0])


# --- L-BFGS and the other optimisers ---------------------------------------------------------

ENDLESS = dict(max_iter=10**9, max_fev=10**9, gtol=0.0, ftol=0.0)


def rosenbrock_rows(X):
    """The chained Rosenbrock function and its gradient along the last axis, in NumPy."""
    head, tail = X[..., :-1], X[..., 1:]
    r = tail - head**2
    f = np.sum(100.0 * r**2 + (1.0 - head) ** 2, axis=-1)
    g = np.zeros_like(X)
    g[..., :-1] = -400.0 * head * r - 2.0 * (1.0 - head)
    g[..., 1:] += 200.0 * r
    return f, g


def rosenbrock_start(*shape):
    x = np.ones(shape)
    x[..., ::2] = -1.2
    return x


def same_result(res, expected):
    np.testing.assert_array_equal(res.x, expected.x)
    assert res.nfev == expected.nfev
    assert res.status == expected.status


@pytest.mark.parametrize("method", ["lbfgs", "bfgs", "gd"])
@wall_clock
def test_native_problem_in_the_cpp_loop(method):
    # (Newton converges in a few dozen steps at any n: nothing to interrupt.)
    small = problems.rosenbrock(10)
    expected = minimize(small, small.x0, method=method, max_iter=100000, max_fev=100000)
    n = 2000 if method == "bfgs" else 20000  # BFGS keeps a dense n x n matrix
    p = problems.rosenbrock(n)
    with interrupted_after():
        minimize(p, p.x0, method=method, **ENDLESS)
    res = minimize(small, small.x0, method=method, max_iter=100000, max_fev=100000)
    same_result(res, expected)
    assert res.success
    np.testing.assert_allclose(res.x, 1.0, atol=0.05)


@wall_clock
def test_python_objective():
    def fun(x):
        f, g = rosenbrock_rows(x)
        return float(f), g

    with interrupted_after():
        minimize(fun, rosenbrock_start(20000), **ENDLESS)
    res = minimize(fun, rosenbrock_start(10))
    assert res.success
    np.testing.assert_allclose(res.x, 1.0, atol=1e-4)


@wall_clock
def test_native_batch():
    small = problems.rosenbrock(6)
    expected = minimize_batch(small, np.tile(small.x0, (3, 1)))
    p = problems.rosenbrock(20000)
    with interrupted_after():
        minimize_batch(p, np.tile(p.x0, (8, 1)), **ENDLESS)
    res = minimize_batch(small, np.tile(small.x0, (3, 1)))
    np.testing.assert_array_equal(res.x, expected.x)
    assert res.success.all()
    np.testing.assert_allclose(res.x, 1.0, atol=1e-4)


@wall_clock
def test_python_batch_objective():
    with interrupted_after():
        minimize_batch(rosenbrock_rows, rosenbrock_start(4, 5000), **ENDLESS)
    res = minimize_batch(rosenbrock_rows, rosenbrock_start(2, 6))
    assert res.success.all()
    np.testing.assert_allclose(res.x, 1.0, atol=1e-4)


# --- Sinkhorn --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "method"),
    [
        ((600, 600), "plain"),  # one problem shared by the threads (a team)
        ((600, 600), "log"),
        ((8, 60, 60), "plain"),  # a batch, one problem per thread
        ((8, 60, 60), "log"),
    ],
)
@wall_clock
def test_sinkhorn_with_tol_zero(shape, method, rng):
    M = rng.random(shape)
    with interrupted_after():
        optkern.ot.sinkhorn(M, reg=0.05, method=method, tol=0, max_iter=2**31 - 1)
    small = rng.random((7, 5))
    a, b = np.full(7, 1 / 7), np.full(5, 1 / 5)
    res = optkern.ot.sinkhorn(small, a, b, reg=0.1, method=method, tol=1e-12)
    P, f, g, _ = sinkhorn_ref.sinkhorn_reference(small, a, b, 0.1)
    np.testing.assert_allclose(res.plan, P, rtol=1e-9, atol=1e-15)


# --- total variation -------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 64])
@wall_clock
def test_tv_irls(batch, rng):
    x = rng.standard_normal((batch, 200000 // batch))
    with interrupted_after():
        optkern.tv.denoise(x, 1.0, method="irls", tol=1e-300, max_iter=10**12)
    small = rng.standard_normal(30)
    y = optkern.tv.denoise(small, 0.5, method="irls", tol=1e-300, max_iter=20)
    np.testing.assert_allclose(y, tv_ref.irls(small, 0.5, 20), rtol=1e-10, atol=1e-12)

