"""Plain NumPy references for optkern.givens, written for clarity, not speed.

Conventions (Frerix & Bruna, ICML 2019, eq. 1): G(i, j, theta) is the identity except
G_ii = G_jj = cos, G_ij = sin, G_ji = -sin; a step replaces V by G^T V, i.e.
row_i <- cos row_i - sin row_j and row_j <- sin row_i + cos row_j, and a factorization
(i_k, j_k, theta_k) means U ~ G_1 ... G_N up to a signed permutation.

The decision rules are the ones optkern documents: the largest decrease wins, ties to the
smallest i, then the smallest j; within a pair the smallest L1 norm, ties to the smallest
angle; a decrease of at most 8 sqrt(d) eps times the pair's L1 norm counts as none.
"""

from __future__ import annotations

import itertools
import math

import numpy as np


def givens_matrix(d, i, j, theta):
    g = np.eye(d)
    c, s = math.cos(theta), math.sin(theta)
    g[i, i] = g[j, j] = c
    g[i, j] = s
    g[j, i] = -s
    return g


def product(d, i, j, theta):
    """G(i_1, j_1, theta_1) @ ... @ G(i_N, j_N, theta_N) as a dense matrix."""
    u = np.eye(d)
    for a, b, t in zip(i, j, theta):
        u = u @ givens_matrix(d, int(a), int(b), float(t))
    return u


def noise_fraction(d, dtype):
    return 8.0 * math.sqrt(d) * float(np.finfo(dtype).eps)


# --- Algorithm 1, brute force ------------------------------------------------------------


def best_l1_rotation(a, b, dtype=np.float64):
    """The best L1 rotation of the block (a, b), as the paper describes it: every "axis
    transition" (the angle in (-pi/4, pi/4] that puts column k on an axis, Proposition 1),
    evaluated by rotating the whole block. O(d^2). Returns (decrease, theta)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    l1 = np.abs(a).sum() + np.abs(b).sum()
    nonzero = (a != 0) | (b != 0)
    if not nonzero.any():
        return 0.0, 0.0
    alpha = np.mod(-np.arctan2(b[nonzero], a[nonzero]), np.pi / 2)  # [0, pi/2)
    alpha = np.sort(np.where(alpha > np.pi / 4, alpha - np.pi / 2, alpha))
    c, s = np.cos(alpha)[:, None], np.sin(alpha)[:, None]
    rotated = np.abs(c * a - s * b).sum(axis=1) + np.abs(s * a + c * b).sum(axis=1)
    k = int(np.argmin(rotated))  # the first minimum: the smallest angle
    decrease = l1 - rotated[k]
    if not decrease > noise_fraction(a.shape[0], dtype) * l1:
        return 0.0, 0.0
    return float(decrease), float(alpha[k])


def rotate_rows(v, i, j, theta):
    """V <- G(i, j, theta)^T V, rounded to V's dtype."""
    c, s = math.cos(theta), math.sin(theta)
    vi, vj = v[i].astype(np.float64), v[j].astype(np.float64)
    v[i] = c * vi - s * vj
    v[j] = s * vi + c * vj


def l1_coordinate_descent(u, n_steps):
    """Algorithm 1: at each step the pair and angle with the largest decrease of ||V||_1.
    Like the paper, only the pairs touching the last rotated rows are re-scored (their
    "up-to-date" check); every pair's score is the brute-force one above. V is kept in u's
    dtype. Returns the trajectory as arrays (i, j, theta)."""
    v = np.array(u, copy=True)
    d = v.shape[0]
    decrease = np.full((d, d), -np.inf)
    angle = np.zeros((d, d))

    def score(p, q):
        decrease[p, q], angle[p, q] = best_l1_rotation(v[p], v[q], v.dtype)

    for p, q in itertools.combinations(range(d), 2):
        score(p, q)
    steps = []
    for _ in range(n_steps):
        flat = int(np.argmax(decrease))  # row-major: ties go to the smallest (i, j)
        i, j = divmod(flat, d)
        if not decrease[i, j] > 0:
            break
        theta = angle[i, j]
        rotate_rows(v, i, j, theta)
        steps.append((i, j, theta))
        for r in range(d):
            for a in (i, j):
                if r != a:
                    score(min(r, a), max(r, a))
    i, j, theta = (np.array(x) for x in zip(*steps)) if steps else ([], [], [])
    return np.asarray(i, np.int64), np.asarray(j, np.int64), np.asarray(theta, np.float64)


# --- the baselines -----------------------------------------------------------------------


def frobenius_greedy(u, n_steps):
    """Each step: the factor that most decreases ||V - I||_F, found by trying every pair with
    its closed-form angle theta = atan2(v_ij - v_ji, v_ii + v_jj)."""
    v = np.array(u, dtype=np.float64, copy=True)
    d = v.shape[0]
    steps = []
    for _ in range(n_steps):
        best = (0.0, -1, -1, 0.0)
        for i, j in itertools.combinations(range(d), 2):
            S, D = v[i, i] + v[j, j], v[i, j] - v[j, i]
            h = math.hypot(S, D)
            gain = D * D / (h + S) if S > 0 else h - S
            noise = 8.0 * np.finfo(np.float64).eps * h
            if gain > noise * noise / (h + abs(S)) and gain > best[0]:
                best = (gain, i, j, math.atan2(D, S))
        if best[1] < 0:
            break
        _, i, j, theta = best
        rotate_rows(v, i, j, theta)
        steps.append((i, j, theta))
    return steps


def elimination(u):
    """Givens QR in the paper's order (eq. 2): column c left to right, rows r bottom-up;
    rotate rows (c, r) to zero V_rc with V_cc >= 0."""
    v = np.array(u, dtype=np.float64, copy=True)
    d = v.shape[0]
    steps = []
    for c in range(d - 1):
        for r in range(d - 1, c, -1):
            theta = math.atan2(-v[r, c], v[c, c])
            rotate_rows(v, c, r, theta)
            steps.append((c, r, theta))
    return steps, v


def jacobi(l, n_steps):
    """Truncated Jacobi: zero the largest |L_pq| (p < q; ties to the smallest (p, q)) by
    L <- G^T L G with |theta| <= pi/4."""
    a = np.array(l, dtype=np.float64, copy=True)
    d = a.shape[0]
    floor = np.finfo(np.float64).eps * np.linalg.norm(a)
    steps = []
    for _ in range(n_steps):
        off = np.abs(np.triu(a, 1))
        p, q = divmod(int(np.argmax(off)), d)
        if not off[p, q] > floor:
            break
        tau = (a[q, q] - a[p, p]) / (2 * a[p, q])
        t = (1.0 if tau >= 0 else -1.0) / (abs(tau) + math.hypot(1.0, tau))
        theta = math.atan(t)
        g = givens_matrix(d, p, q, theta)
        a = g.T @ a @ g
        steps.append((p, q, theta))
    return steps, a


# --- metrics -----------------------------------------------------------------------------


def symmetrized_frobenius(u, v):
    """min over all signed permutations P of ||U - V P||_F, by enumeration (small d only)."""
    d = u.shape[1]
    best = np.inf
    for perm in itertools.permutations(range(d)):
        for signs in itertools.product((1.0, -1.0), repeat=d):
            best = min(best, np.linalg.norm(u - v[:, perm] * np.array(signs)))
    return best
