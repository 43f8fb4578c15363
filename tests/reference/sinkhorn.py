"""Plain NumPy references for entropic optimal transport, written for clarity, not speed.

- sinkhorn_reference: log-domain Sinkhorn in float64 (alternating, Gauss-Seidel updates).
- entropic_value: <M, P> + reg <P, log P - 1>.
- kkt_vjp_full: the backward from the full KKT system of Gould's lecture notes (eq 133), with
  the plan vectorised to length m*n (tiny problems only).
- kkt_vjp_dense: the same system reduced to the (m + n - 1) multipliers (eq 141) and solved
  densely (the "naive" solve the block Cholesky is compared against).
- min_norm_gauge: the representative of (grad_a + t, grad_b - t) with sum grad_a = sum grad_b.

Note on the lecture notes' Sinkhorn (seeds-001-003 A19): as printed, v_{k+1} = b / (K^T u_k)
uses the *previous* u (a Jacobi update); its coupling diag(u) K diag(v) is off by a factor that
alternates each iteration. The references use the alternating update v = b / (K^T u_{k+1}).
"""

from __future__ import annotations

import numpy as np


def logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    return np.squeeze(top, axis) + np.log(np.sum(np.exp(x - top), axis=axis))


def sinkhorn_reference(M, a, b, reg, tol=1e-12, max_iter=100000):
    """(P, f, g, n_iter) for one problem, in float64. Stops when the row marginal error of
    the (column-exact) iterate is below tol * sum(a)."""
    M = np.asarray(M, np.float64)
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64) * a.sum() / np.sum(b)
    with np.errstate(divide="ignore"):
        log_a, log_b = np.log(a), np.log(b)
    f = np.zeros(len(a))
    g = np.zeros(len(b))
    for it in range(1, max_iter + 1):  # noqa: B007 (the count is returned)
        f = reg * (log_a - logsumexp((g[None, :] - M) / reg, axis=1))
        g = reg * (log_b - logsumexp((f[:, None] - M) / reg, axis=0))
        P = np.exp((f[:, None] + g[None, :] - M) / reg)
        if np.max(np.abs(P.sum(axis=1) - a)) <= tol * a.sum():
            break
    return P, f, g, it


def entropic_value(M, P, reg):
    P = np.asarray(P, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(P > 0, P * (np.log(P) - 1.0), 0.0)
    return float(np.sum(M * P) + reg * np.sum(plogp))


def constraint_matrix(m: int, n: int) -> np.ndarray:
    """A of eq 135: the row sums of rows 2..m and all column sums of vec(P) (row-major)."""
    rows = np.kron(np.eye(m), np.ones((1, n)))[1:]
    cols = np.kron(np.ones((1, m)), np.eye(n))
    return np.vstack([rows, cols])


def kkt_vjp_full(P, W, reg):
    """(grad_M, grad_a, grad_b) from eq 133: dP/dM = H^-1 A^T (A H^-1 A^T)^-1 A H^-1 - H^-1,
    with H^-1 = diag(vec P) / reg (the Hessian of the entropic objective is reg / P) and B = I.
    The derivative with respect to the constraint values [a_2..a_m, b] is
    H^-1 A^T (A H^-1 A^T)^-1; the dropped a_1 gets 0 (fix the gauge with min_norm_gauge)."""
    P = np.asarray(P, np.float64)
    W = np.asarray(W, np.float64)
    m, n = P.shape
    A = constraint_matrix(m, n)
    Hinv = np.diag(P.ravel()) / reg
    X = A @ Hinv @ A.T
    J = Hinv @ A.T @ np.linalg.solve(X, A @ Hinv) - Hinv
    grad_M = (J @ W.ravel()).reshape(m, n)  # J is symmetric
    grad_rhs = np.linalg.solve(X, A @ Hinv @ W.ravel())
    grad_a = np.concatenate([[0.0], grad_rhs[: m - 1]])
    grad_b = grad_rhs[m - 1:]
    return grad_M, grad_a, grad_b


def kkt_vjp_dense(P, W, reg):
    """The same gradients from the (m + n - 1) system [[diag(r_2:m), P_2:m], [P_2:m^T, diag(c)]]
    (eq 141, divided by reg), solved densely: O((m + n)^3)."""
    P = np.asarray(P, np.float64)
    W = np.asarray(W, np.float64)
    m, n = P.shape
    r, c = P.sum(axis=1), P.sum(axis=0)
    WP = W * P
    rho, kappa = WP.sum(axis=1), WP.sum(axis=0)
    K = np.zeros((m - 1 + n, m - 1 + n))
    K[: m - 1, : m - 1] = np.diag(r[1:])
    K[: m - 1, m - 1:] = P[1:]
    K[m - 1:, : m - 1] = P[1:].T
    K[m - 1:, m - 1:] = np.diag(c)
    sol = np.linalg.solve(K, np.concatenate([rho[1:], kappa]))
    lam = np.concatenate([[0.0], sol[: m - 1]])
    mu = sol[m - 1:]
    grad_M = P * (lam[:, None] + mu[None, :] - W) / reg
    return grad_M, lam, mu


def min_norm_gauge(grad_a, grad_b):
    """(grad_a + t, grad_b - t) with sum grad_a = sum grad_b."""
    grad_a = np.asarray(grad_a, np.float64)
    grad_b = np.asarray(grad_b, np.float64)
    t = (grad_b.sum(-1, keepdims=True) - grad_a.sum(-1, keepdims=True)) / (
        grad_a.shape[-1] + grad_b.shape[-1])
    return grad_a + t, grad_b - t


def point_cloud_cost(m: int, n: int | None = None, seed: int = 27, dim: int = 2):
    """An (m, n) cost from the benchopt workload: x ~ N(0, I) (m points), y = randn @
    [[1, .8], [.8, 1]] + 1 (n points), squared Euclidean cost normalised to [0, 1]."""
    rng = np.random.default_rng(seed)
    n = m if n is None else n
    x = rng.standard_normal((m, dim))
    y = rng.standard_normal((n, dim)) @ np.array([[1.0, 0.8], [0.8, 1.0]])[:dim, :dim] + 1.0
    # |x - y|^2 = |x|^2 + |y|^2 - 2 x.y, without an m x n x dim temporary
    M = (x**2).sum(1)[:, None] + (y**2).sum(1)[None, :] - 2 * x @ y.T
    M = np.maximum(M, 0.0)
    return M / M.max()
