"""One typical call of every compiled kernel, for the thread and memory tests.

``KERNELS[name](seed, size)`` makes the inputs from `seed` (different seeds, different
inputs) and returns a call without arguments that runs the kernel on them and returns its
result as a tuple of NumPy arrays, so that results can be compared bitwise. `size` scales
the work: "small" for tight loops, "batch" for timing (20-60 ms on one core).
``run(name, seed, size)`` does both.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from optkern import givens, linalg, ot, tv
from optkern.optimize import minimize, minimize_batch, problems

Call = Callable[[], tuple]


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(1000 + seed)


def bmm(seed: int, size: str) -> Call:
    b, n = (2, 4) if size == "small" else (128, 128)
    rng = _rng(seed)
    a, c = rng.standard_normal((b, n, n)), rng.standard_normal((b, n, n))
    return lambda: (linalg.bmm(a, c),)


def bmm_one_product(seed: int, size: str) -> Call:
    """One large product: the threads split the product itself."""
    n = 8 if size == "small" else 900
    rng = _rng(seed)
    a, c = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    return lambda: (linalg.bmm(a, c),)


def tridiagonal_solve(seed: int, size: str) -> Call:
    b, n = (2, 8) if size == "small" else (10000, 256)
    rng = _rng(seed)
    lower, diag, upper = -rng.random((b, n)), 4 + rng.random((b, n)), -rng.random((b, n))
    rhs = rng.standard_normal((b, n))
    return lambda: (linalg.tridiagonal_solve(lower, diag, upper, rhs),)


def tv_denoise(seed: int, size: str) -> Call:
    b, n = (2, 16) if size == "small" else (1500, 1000)
    x = np.cumsum(_rng(seed).standard_normal((b, n)), axis=-1)
    return lambda: (tv.denoise(x, 1.0),)


def tv_denoise_irls(seed: int, size: str) -> Call:
    b, n = (2, 16) if size == "small" else (1000, 200)
    x = _rng(seed).standard_normal((b, n))

    def call() -> tuple:
        r = tv.denoise(x, 0.5, method="irls", max_iter=50, return_info=True)
        return r.y, r.nit, r.change

    return call


def tv_denoise_vjp(seed: int, size: str) -> Call:
    b, n = (2, 16) if size == "small" else (3000, 1000)
    rng = _rng(seed)
    y = tv.denoise(rng.standard_normal((b, n)), 0.5)
    g = rng.standard_normal((b, n))
    return lambda: tv.denoise_vjp(y, g, 0.5)


def _sinkhorn(M: np.ndarray, reg: float, method: str = "auto") -> Call:
    def call() -> tuple:
        r = ot.sinkhorn(M, reg=reg, method=method, tol=1e-9)
        return r.plan, r.f, r.g, np.asarray(r.n_iter), np.asarray(r.value)

    return call


def sinkhorn(seed: int, size: str) -> Call:
    b, n, reg = (1, 6, 0.5) if size == "small" else (192, 128, 0.02)
    return _sinkhorn(_rng(seed).random((b, n, n)), reg)


def sinkhorn_log(seed: int, size: str) -> Call:
    b, n, reg = (1, 6, 0.5) if size == "small" else (4, 192, 0.01)
    return _sinkhorn(_rng(seed).random((b, n, n)), reg, "log")


def sinkhorn_one_problem(seed: int, size: str) -> Call:
    """One large problem: the threads split its rows."""
    n, reg = (6, 0.5) if size == "small" else (1600, 0.05)
    return _sinkhorn(_rng(seed).random((n, n)), reg)


def _sinkhorn_vjp(shape: tuple, seed: int) -> Call:
    rng = _rng(seed)
    P = ot.sinkhorn(rng.random(shape), reg=0.1).plan
    W = rng.standard_normal(P.shape)
    return lambda: ot.sinkhorn_vjp(P, W, 0.1)


def sinkhorn_vjp(seed: int, size: str) -> Call:
    return _sinkhorn_vjp((1, 6, 6) if size == "small" else (320, 64, 64), seed)


def sinkhorn_vjp_one_problem(seed: int, size: str) -> Call:
    """One large problem: the threads share its factorisation."""
    return _sinkhorn_vjp((6, 6) if size == "small" else (800, 800), seed)


def minimize_native(seed: int, size: str) -> Call:
    n, max_iter = (8, 30) if size == "small" else (4000, 1000)
    problem = problems.rosenbrock(n)
    x0 = problem.x0 + 0.1 * _rng(seed).standard_normal(n)

    def call() -> tuple:
        r = minimize(problem, x0, max_iter=max_iter)
        return r.x, np.asarray(r.fun), np.asarray(r.nit)

    return call


def minimize_python(seed: int, size: str) -> Call:
    n = 4 if size == "small" else 200
    w = np.linspace(1.0, 100.0, n)
    x0 = _rng(seed).standard_normal(n)

    def fun(x: np.ndarray) -> tuple:
        return float(0.5 * (w * x) @ x), w * x

    def call() -> tuple:
        r = minimize(fun, x0, max_iter=50)
        return r.x, np.asarray(r.fun), np.asarray(r.nit)

    return call


def minimize_batch_native(seed: int, size: str) -> Call:
    x0 = _rng(seed).standard_normal((2 if size == "small" else 800, 8))

    def call() -> tuple:
        r = minimize_batch(problems.rosenbrock(8), x0, max_iter=100)
        return r.x, r.fun, r.nit

    return call


def problem_value_grad(seed: int, size: str) -> Call:
    n, b = (4, 2) if size == "small" else (1000, 1000)
    problem = problems.trigonometric(n)
    x = _rng(seed).standard_normal((b, n))
    return lambda: problem(x)


def _factorize(U: np.ndarray, count: int | None, method: str) -> Call:
    def call() -> tuple:
        s = givens.factorize(U, count, method=method)
        return s.i, s.j, s.theta

    return call


def givens_l1(seed: int, size: str) -> Call:
    d, k = (4, 6) if size == "small" else (64, 200)
    return _factorize(givens.planted(d, k, _rng(seed)), k, "l1")


def givens_greedy(seed: int, size: str) -> Call:
    d = 4 if size == "small" else 400
    return _factorize(givens.planted(d, 2 * d, _rng(seed)), 4 * d, "greedy")


def givens_elimination(seed: int, size: str) -> Call:
    d = 4 if size == "small" else 500
    return _factorize(givens.planted(d, 2 * d, _rng(seed)), None, "elimination")


def givens_beam(seed: int, size: str) -> Call:
    # large: 16 beams at d = 256 re-score 16 x 509 pairs per step, on threads
    d, k = (4, 6) if size == "small" else (256, 20)
    U = givens.planted(d, 2 * d, _rng(seed))

    def call() -> tuple:
        s = givens.factorize(U, k, method="beam", beam_width=2 if size == "small" else 16)
        return s.i, s.j, s.theta

    return call


def givens_jacobi(seed: int, size: str) -> Call:
    d, steps = (4, 64) if size == "small" else (300, 9600)
    a = _rng(seed).standard_normal((d, d))
    a = a + a.T

    def call() -> tuple:
        s, lam = givens.jacobi(a, steps, return_eigenvalues=True)
        return s.i, s.j, s.theta, lam

    return call


def givens_apply(seed: int, size: str) -> Call:
    d, cols = (4, 2) if size == "small" else (256, 32768)
    rng = _rng(seed)
    i = rng.integers(0, d - 1, 4 * d)
    j = i + 1 + rng.integers(0, d - 1 - i)
    seq = givens.GivensSequence(i, j, rng.uniform(0, 6, 4 * d), dim=d)
    X = rng.standard_normal((d, cols))
    return lambda: (seq.apply(X),)


KERNELS: dict[str, Callable[[int, str], Call]] = {
    "bmm": bmm,
    "bmm one product": bmm_one_product,
    "tridiagonal_solve": tridiagonal_solve,
    "tv.denoise": tv_denoise,
    "tv.denoise irls": tv_denoise_irls,
    "tv.denoise_vjp": tv_denoise_vjp,
    "ot.sinkhorn": sinkhorn,
    "ot.sinkhorn log": sinkhorn_log,
    "ot.sinkhorn one problem": sinkhorn_one_problem,
    "ot.sinkhorn_vjp": sinkhorn_vjp,
    "ot.sinkhorn_vjp one problem": sinkhorn_vjp_one_problem,
    "optimize.minimize native": minimize_native,
    "optimize.minimize python": minimize_python,
    "optimize.minimize_batch": minimize_batch_native,
    "optimize.problems": problem_value_grad,
    "givens.factorize l1": givens_l1,
    "givens.factorize greedy": givens_greedy,
    "givens.factorize elimination": givens_elimination,
    "givens.factorize beam": givens_beam,
    "givens.jacobi": givens_jacobi,
    "givens.GivensSequence.apply": givens_apply,
}


def run(name: str, seed: int, size: str) -> tuple:
    return KERNELS[name](seed, size)()


def same_bits(x: tuple, y: tuple) -> bool:
    """Bitwise equality of two results (NaN equal to NaN, -0.0 different from 0.0)."""
    if len(x) != len(y):
        return False
    for a, b in zip(x, y):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype or a.tobytes() != b.tobytes():
            return False
    return True
