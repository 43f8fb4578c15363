"""Plain NumPy references for optkern.optimize, written for clarity, not speed.

* the test problems (value, gradient, Hessian), straight from their formulas;
* central finite differences;
* the modified Newton direction by a full eigendecomposition (thesis section 1.1.2);
* the BFGS inverse update (thesis eq. 14) and the L-BFGS matrix built from it;
* the strong Wolfe conditions (Nocedal & Wright eq. 3.7).
"""

from __future__ import annotations

import numpy as np

from optkern.optimize import problems as optimize_problems

# --- problems ---------------------------------------------------------------------------


def rosenbrock(x, scale=1.0):
    """Chained Rosenbrock times `scale`: f, g, H."""
    x = np.asarray(x, dtype=float)
    n = x.size
    f = scale * np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
    g = np.zeros(n)
    g[:-1] += -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2.0
        h[i + 1, i + 1] += 200.0
        h[i, i + 1] = h[i + 1, i] = -400.0 * x[i]
    return f, scale * g, scale * h


def rosenbrock_averaged(x):
    """Thesis eq. 15: the chained Rosenbrock function divided by n - 1."""
    return rosenbrock(x, 1.0 / (np.size(x) - 1))


def extended_rosenbrock(x):
    x = np.asarray(x, dtype=float)
    n = x.size
    f, g, h = 0.0, np.zeros(n), np.zeros((n, n))
    for j in range(0, n, 2):
        pair_f, pair_g, pair_h = rosenbrock(x[j:j + 2])
        f += pair_f
        g[j:j + 2] = pair_g
        h[j:j + 2, j:j + 2] = pair_h
    return f, g, h


def extended_powell(x):
    x = np.asarray(x, dtype=float)
    n = x.size
    f, g, h = 0.0, np.zeros(n), np.zeros((n, n))
    for j in range(0, n, 4):
        x1, x2, x3, x4 = x[j:j + 4]
        a, b, c, e = x1 + 10 * x2, x3 - x4, x2 - 2 * x3, x1 - x4
        f += a ** 2 + 5 * b ** 2 + c ** 4 + 10 * e ** 4
        g[j:j + 4] = [2 * a + 40 * e ** 3, 20 * a + 4 * c ** 3, 10 * b - 8 * c ** 3,
                      -10 * b - 40 * e ** 3]
        h[j:j + 4, j:j + 4] = [
            [2 + 120 * e ** 2, 20, 0, -120 * e ** 2],
            [20, 200 + 12 * c ** 2, -24 * c ** 2, 0],
            [0, -24 * c ** 2, 10 + 48 * c ** 2, -10],
            [-120 * e ** 2, 0, -10, 10 + 120 * e ** 2],
        ]
    return f, g, h


def quadratic(x, cond=1e4):
    x = np.asarray(x, dtype=float)
    n = x.size
    d = cond ** (np.arange(n) / (n - 1)) if n > 1 else np.ones(1)
    return 0.5 * np.sum(d * x * x), d * x, np.diag(d)


def _least_squares(r, jacobian, second):
    """f = sum r_i^2 with its gradient 2 J'r and Hessian 2 J'J + 2 sum_i r_i Hess(r_i),
    `second` being sum_i r_i Hess(r_i)."""
    return float(r @ r), 2.0 * jacobian.T @ r, 2.0 * jacobian.T @ jacobian + 2.0 * second


def trigonometric(x):
    """MGH 26: r_i = n - sum_j cos x_j + (i+1)(1 - cos x_i) - sin x_i."""
    x = np.asarray(x, dtype=float)
    n = x.size
    i = np.arange(1, n + 1)
    r = n - np.cos(x).sum() + i * (1 - np.cos(x)) - np.sin(x)
    jacobian = np.tile(np.sin(x), (n, 1)) + np.diag(i * np.sin(x) - np.cos(x))
    second = np.diag(r.sum() * np.cos(x) + r * (i * np.cos(x) + np.sin(x)))
    return _least_squares(r, jacobian, second)


def broyden_tridiagonal(x):
    """MGH 30: r_i = (3 - 2 x_i) x_i - x_{i-1} - 2 x_{i+1} + 1."""
    x = np.asarray(x, dtype=float)
    n = x.size
    padded = np.concatenate([[0.0], x, [0.0]])
    r = (3 - 2 * x) * x - padded[:-2] - 2 * padded[2:] + 1
    jacobian = np.diag(3 - 4 * x) - np.eye(n, k=-1) - 2 * np.eye(n, k=1)
    return _least_squares(r, jacobian, np.diag(-4.0 * r))


def discrete_boundary_value(x):
    """MGH 28: r_i = 2 x_i - x_{i-1} - x_{i+1} + h^2 (x_i + t_i + 1)^3 / 2."""
    x = np.asarray(x, dtype=float)
    n = x.size
    h = 1.0 / (n + 1)
    t = np.arange(1, n + 1) * h
    u = x + t + 1
    padded = np.concatenate([[0.0], x, [0.0]])
    r = 2 * x - padded[:-2] - padded[2:] + h * h * u ** 3 / 2
    jacobian = np.diag(2 + 1.5 * h * h * u ** 2) - np.eye(n, k=-1) - np.eye(n, k=1)
    return _least_squares(r, jacobian, np.diag(r * 3 * h * h * u))


def variably_dimensioned(x):
    """MGH 25: r = (x - 1, s, s^2), s = sum_j (j+1)(x_j - 1)."""
    x = np.asarray(x, dtype=float)
    n = x.size
    w = np.arange(1, n + 1, dtype=float)
    s = w @ (x - 1)
    f = np.sum((x - 1) ** 2) + s ** 2 + s ** 4
    g = 2 * (x - 1) + (2 * s + 4 * s ** 3) * w
    h = 2 * np.eye(n) + (2 + 12 * s ** 2) * np.outer(w, w)
    return f, g, h


# One reference per problem optkern ships, by its name there: a problem added to the library
# without a reference here fails at import (KeyError), not silently untested.
PROBLEMS = {name: globals()[name] for name in optimize_problems.ALL}


def standard_start(name, n):
    """MGH's starting points; (-1.2, 1, ...) for the Rosenbrock family, ones for the
    quadratic."""
    i = np.arange(n)
    if name in ("rosenbrock", "rosenbrock_averaged", "extended_rosenbrock"):
        return np.where(i % 2 == 0, -1.2, 1.0)
    if name == "extended_powell":
        return np.tile([3.0, -1.0, 0.0, 1.0], n // 4)
    if name == "quadratic":
        return np.ones(n)
    if name == "trigonometric":
        return np.full(n, 1.0 / n)
    if name == "broyden_tridiagonal":
        return -np.ones(n)
    if name == "discrete_boundary_value":
        t = (i + 1) / (n + 1)
        return t * (t - 1)
    if name == "variably_dimensioned":
        return 1 - (i + 1) / n
    raise KeyError(name)


# --- derivatives and steps ----------------------------------------------------------------


def central_difference(fun, x, h=1e-6):
    """The central-difference derivative of fun (scalar or vector valued) at x, one
    column per coordinate: (fun(x + h e_i) - fun(x - h e_i)) / 2h."""
    x = np.asarray(x, dtype=float)
    columns = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        columns.append((np.asarray(fun(x + e)) - np.asarray(fun(x - e))) / (2 * h))
    return np.stack(columns, axis=-1)


def modified_newton_direction(h, g, floor):
    """p = -V max(L, floor)^{-1} V' g for H = V L V' (symmetric part of h)."""
    lam, v = np.linalg.eigh(0.5 * (h + h.T))
    return -v @ ((v.T @ g) / np.maximum(lam, floor))


def floored_inverse(h, floor):
    lam, v = np.linalg.eigh(0.5 * (h + h.T))
    return (v / np.maximum(lam, floor)) @ v.T


def bfgs_inverse_update(h_inv, s, y):
    """Thesis eq. 14: (I - rho s y') H (I - rho y s') + rho s s', rho = 1 / s'y."""
    rho = 1.0 / (s @ y)
    v = np.eye(s.size) - rho * np.outer(y, s)
    return v.T @ h_inv @ v + rho * np.outer(s, s)


def lbfgs_matrix(pairs):
    """The L-BFGS inverse Hessian for the pairs (s, y), oldest first: eq. 14 applied to each
    pair in turn, starting from (s'y / y'y) I of the newest pair (thesis eq. 16)."""
    s_new, y_new = pairs[-1]
    h_inv = (s_new @ y_new) / (y_new @ y_new) * np.eye(s_new.size)
    for s, y in pairs:
        h_inv = bfgs_inverse_update(h_inv, s, y)
    return h_inv


def strong_wolfe(f0, g0, f1, g1, step, c1, c2, rtol=0.0):
    """Whether x1 = x0 + step satisfies the strong Wolfe conditions for f, g at x0 and x1:
    f1 <= f0 + c1 g0'step and |g1'step| <= c2 |g0'step| (each with a relative slack rtol
    for rounding)."""
    slope0 = g0 @ step
    slope1 = g1 @ step
    decrease = f1 <= f0 + c1 * slope0 + rtol * abs(f0)
    curvature = abs(slope1) <= c2 * abs(slope0) * (1 + rtol)
    return bool(slope0 < 0 and decrease and curvature)


def cosine(a, b):
    """The cosine of the angle between two vectors."""
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
