"""Plain NumPy references for 1-D total variation denoising, written for clarity, not speed.

The problem (seed-004 §7, eq. 168), for one signal x of length n and λ >= 0:

    y = argmin_u  ½‖u − x‖² + λ Σ_{k=1}^{n−1} |u_k − u_{k+1}|

**Optimality (the certificate the tests check).** With D the (n−1)×n difference operator,
(Du)_k = u_k − u_{k+1}, the subgradient condition is x − y = λ Dᵀv with v_k ∈ sign(y_k − y_{k+1})
(any value in [−1, 1] where y_k = y_{k+1}). Summing the first k rows, and writing v_0 = v_n = 0,

    z_k := Σ_{i≤k} (x_i − y_i) = λ v_k,

so |z_k| <= λ for every k, z_n = 0, and z_k = λ·sign(y_k − y_{k+1}) wherever y jumps.

**The taut string.** Let r_k = Σ_{i≤k} x_i (r_0 = 0) and s_k = Σ_{i≤k} y_i. The certificate says
s_k lies in the tube [r_k − λ, r_k + λ] with pinned ends s_0 = 0, s_n = r_n, bending down
(a jump y_k > y_{k+1}) only where it touches the upper wall and up only at the lower wall: s is
the shortest path (the taut string) through the tube, and y is its slope.

**The Jacobian (for the backward).** y is constant on maximal segments S = [a..b]. Summing
x_i − y_S over S gives z_b − z_{a−1} = λ(v_b − v_{a−1}), hence

    y_S = mean(x_S) − λ (v_b − v_{a−1}) / |S|,   v_k = sign(y_k − y_{k+1}), v_0 = v_n = 0.

The segments and the signs are locally constant in x and λ (away from ties), so
∂y_S/∂x_i = 1/|S| for i in S (0 elsewhere): the Jacobian is block-diagonal averaging, NOT the
identity the lecture notes claim (eq. 171); and ∂y_S/∂λ = −(v_b − v_{a−1})/|S|. For a loss with
gradient g = ∂L/∂y: ∂L/∂x_i = mean(g_S) for i in S and ∂L/∂λ = Σ_S −(v_b − v_{a−1}) mean(g_S).
"""

from __future__ import annotations

import numpy as np


def objective(x, y, lam):
    """½‖y − x‖² + λ‖Dy‖₁ over the last axis."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return 0.5 * ((y - x) ** 2).sum(-1) + lam * np.abs(np.diff(y, axis=-1)).sum(-1)


def lambda_max(x):
    """The smallest λ at which the solution is the constant mean: max_k |Σ_{i≤k}(x_i − x̄)|."""
    x = np.asarray(x, np.float64)
    z = np.cumsum(x - x.mean(-1, keepdims=True), axis=-1)[..., :-1]
    return np.abs(z).max(-1, initial=0.0)


def certificate(x, y, lam):
    """Violations of the optimality conditions of one signal, in units of λ-scaled sums:
    (max_k |z_k| − λ, |z_n|, max over jumps of |z_k − λ sign(y_k − y_{k+1})|)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    z = np.cumsum(x - y)
    inner = z[:-1]
    jumps = y[:-1] != y[1:]
    sign = np.sign(y[:-1] - y[1:])
    return (
        float(np.abs(inner).max(initial=0.0) - lam),
        float(abs(z[-1])),
        float(np.abs(inner[jumps] - lam * sign[jumps]).max(initial=0.0)),
    )


def _slope(p, q):
    return (q[1] - p[1]) / (q[0] - p[0])


def taut_string(x, lam):
    """The exact solution for one signal, by the taut string through the tube r ± λ.

    A funnel walk: from the current apex (the last point the string is known to pass
    through) keep the convex chain of upper-wall points (the string can only bend down there)
    and the concave chain of lower-wall points. A new upper point pops the upper chain's
    tail until it is convex again; if it then sees the apex below the first lower point's
    direction, the string must pass through that lower point: it becomes the apex and the
    straight piece before it is final. Lower points likewise, mirrored.
    """
    x = np.asarray(x, np.float64)
    n = x.size
    if n <= 1 or lam == 0:
        return x.copy()
    return taut_string_weighted(x, np.full(n - 1, float(lam)))


def taut_string_weighted(x, w):
    """The exact solution of ½‖y − x‖² + Σ_k w_k |y_k − y_{k+1}| (one weight per edge, w >= 0)
    for one signal: the same funnel walk through a tube of half-width w_{k−1} at point k.
    (The certificate becomes |z_k| <= w_k, z_k = w_k sign(y_k − y_{k+1}) at jumps.)"""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    n = x.size
    if n <= 1:
        return x.copy()
    r = np.concatenate([[0.0], np.cumsum(x)])
    y = np.empty(n)
    apex = (0, 0.0)
    upper: list[tuple[int, float]] = []  # convex: slopes from the apex increase
    lower: list[tuple[int, float]] = []  # concave: slopes from the apex decrease

    def emit(p, q):
        y[p[0]:q[0]] = _slope(p, q)

    for k in range(1, n + 1):
        width = w[k - 1] if k < n else 0.0  # the ends are pinned: s_n = r_n
        hi, lo = (k, r[k] + width), (k, r[k] - width)

        while upper and _slope(upper[-2] if len(upper) > 1 else apex, upper[-1]) >= _slope(
                upper[-1], hi):
            upper.pop()
        upper.append(hi)
        while len(upper) == 1 and lower and _slope(apex, hi) < _slope(apex, lower[0]):
            emit(apex, lower[0])
            apex = lower.pop(0)

        while lower and _slope(lower[-2] if len(lower) > 1 else apex, lower[-1]) <= _slope(
                lower[-1], lo):
            lower.pop()
        lower.append(lo)
        while len(lower) == 1 and upper and _slope(apex, lo) > _slope(apex, upper[0]):
            emit(apex, upper[0])
            apex = upper.pop(0)

    # Both chains end at (n, r_n); at most one of them still bends: follow it.
    path = upper if len(upper) > 1 else lower
    for point in path:
        emit(apex, point)
        apex = point
    return y


def denoise(x, lam):
    """taut_string over the last axis of x; lam is a scalar or one value per signal."""
    x = np.asarray(x, np.float64)
    lam = np.broadcast_to(np.asarray(lam, np.float64), x.shape[:-1])
    out = np.empty_like(x)
    for index in np.ndindex(x.shape[:-1]):
        out[index] = taut_string(x[index], float(lam[index]))
    return out


def objective_weighted(x, y, w):
    """½‖y − x‖² + Σ_k w_k |y_k − y_{k+1}| over the last axis."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return 0.5 * ((y - x) ** 2).sum(-1) + (np.asarray(w) * np.abs(np.diff(y, axis=-1))).sum(-1)


def certificate_weighted(x, y, w):
    """As certificate, with one weight per edge: (max_k |z_k| − w_k, |z_n|, max over jumps of
    |z_k − w_k sign(y_k − y_{k+1})|)."""
    x, y, w = (np.asarray(a, np.float64) for a in (x, y, w))
    z = np.cumsum(x - y)
    inner = z[:-1]
    jumps = y[:-1] != y[1:]
    sign = np.sign(y[:-1] - y[1:])
    return (
        float((np.abs(inner) - w).max(initial=0.0)),
        float(abs(z[-1])),
        float(np.abs(inner[jumps] - w[jumps] * sign[jumps]).max(initial=0.0)),
    )


def denoise_vjp_weighted(y, grad_y, w, tol=0.0):
    """(∂L/∂x, ∂L/∂w) of one signal with one weight per edge. A segment S = [a..b] has
    y_S = mean(x_S) − (w_b v_b − w_{a−1} v_{a−1}) / |S|, so a jump edge e between segments S
    (left) and S' (right) gets ∂L/∂w_e = v_e (mean(g_S') − mean(g_S)); other edges get 0."""
    y, g = np.asarray(y, np.float64), np.asarray(grad_y, np.float64)
    grad_x = np.empty_like(g)
    grad_w = np.zeros(y.size - 1)
    runs = segments(y, tol)
    means = [g[a:b].mean() for a, b in runs]
    for (a, b), mean_g in zip(runs, means):
        grad_x[a:b] = mean_g
    for i in range(len(runs) - 1):
        e = runs[i][1] - 1
        v = np.sign(y[e] - y[e + 1])
        grad_w[e] = v * (means[i + 1] - means[i])
    return grad_x, grad_w


def segments(y, tol=0.0):
    """Maximal runs [a, b) of one signal where neighbours differ by at most tol."""
    y = np.asarray(y, np.float64)
    with np.errstate(over="ignore"):  # neighbours 3.6e308 apart differ all the same
        breaks = np.flatnonzero(np.abs(np.diff(y)) > tol) + 1
    edges = np.concatenate([[0], breaks, [y.size]])
    return list(zip(edges[:-1], edges[1:]))


def denoise_vjp(y, grad_y, lam, tol=0.0):
    """(∂L/∂x, ∂L/∂λ) of one signal from the segment structure of y (see the module doc).
    Returns grad_x of y's shape and the scalar grad_lam."""
    y, g = np.asarray(y, np.float64), np.asarray(grad_y, np.float64)
    grad_x = np.empty_like(g)
    grad_lam = 0.0
    for a, b in segments(y, tol):
        mean_g = g[a:b].mean()
        grad_x[a:b] = mean_g
        right = np.sign(y[b - 1] - y[b]) if b < y.size else 0.0
        left = np.sign(y[a - 1] - y[a]) if a > 0 else 0.0
        grad_lam -= (right - left) * mean_g
    return grad_x, grad_lam


def tridiagonal_matrix(lower, diag, upper):
    """The dense n×n matrix with A[i, i−1] = lower[i], A[i, i] = diag[i], A[i, i+1] = upper[i]
    (lower[0] and upper[n−1] lie outside the matrix and are ignored)."""
    n = len(diag)
    a = np.diag(np.asarray(diag, np.float64))
    idx = np.arange(1, n)
    a[idx, idx - 1] = np.asarray(lower, np.float64)[1:]
    a[idx - 1, idx] = np.asarray(upper, np.float64)[:-1]
    return a


def tridiagonal_solve(lower, diag, upper, rhs):
    """Batched dense solve of tridiagonal systems (shapes as optkern.linalg.tridiagonal_solve,
    with lower and upper of length n), by numpy.linalg.solve on the dense matrices."""
    lower, diag, upper, rhs = np.broadcast_arrays(*(np.asarray(a, np.float64) for a in
                                                    (lower, diag, upper, rhs)))
    out = np.empty(rhs.shape)
    for index in np.ndindex(rhs.shape[:-1]):
        a = tridiagonal_matrix(lower[index], diag[index], upper[index])
        out[index] = np.linalg.solve(a, rhs[index])
    return out


def irls(x, lam, n_iter):
    """The lecture notes' majorise-minimise iteration (eq. 170) for one signal, with dense
    solves as in the notes' listing: u ← x − Dᵀ((1/λ)diag|Du| + DDᵀ)⁻¹ Dx, from u = x."""
    x = np.asarray(x, np.float64)
    n = x.size
    d = np.eye(n - 1, n) - np.eye(n - 1, n, 1)  # (Du)_k = u_k − u_{k+1}
    u = x.copy()
    for _ in range(n_iter):
        w = np.linalg.solve(np.diag(np.abs(d @ u) / lam) + d @ d.T, d @ x)
        u = x - d.T @ w
    return u


# --- 2-D TV -----------------------------------------------------------------------------------
#
# Anisotropic: ½‖Y − X‖² + λ Σ (|Y_i,j+1 − Y_ij| + |Y_i+1,j − Y_ij|); isotropic: the pixel
# gradients' Euclidean norms, with forward differences and none past the last row or column.


def tv_2d(y, isotropic=False):
    """TV of each image (last two axes)."""
    y = np.asarray(y, np.float64)
    gx = np.zeros_like(y)
    gy = np.zeros_like(y)
    gx[..., :, :-1] = np.diff(y, axis=-1)
    gy[..., :-1, :] = np.diff(y, axis=-2)
    if isotropic:
        return np.sqrt(gx**2 + gy**2).sum((-2, -1))
    return np.abs(gx).sum((-2, -1)) + np.abs(gy).sum((-2, -1))


def objective_2d(x, y, lam, isotropic=False):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return 0.5 * ((y - x) ** 2).sum((-2, -1)) + lam * tv_2d(y, isotropic)


def dykstra_2d(x, lam, n_iter):
    """The anisotropic prox of one image by Dykstra's alternating projections-style
    splitting: prox of the row TV and of the column TV (each the exact 1-D taut string)
    in turn, with the two correction terms p and q. Converges to the prox of the sum."""
    y = np.asarray(x, np.float64).copy()
    p = np.zeros_like(y)
    q = np.zeros_like(y)
    for _ in range(n_iter):
        z = denoise(y + p, lam)            # rows
        p = y + p - z
        y = denoise((z + q).T, lam).T      # columns
        q = z + q - y
    return y


def chambolle_2d(x, lam, n_iter, tau=0.125):
    """The isotropic prox of one image by Chambolle's projection algorithm (J. Math. Imaging
    Vis. 20, 2004): p ← (p + τ ∇(div p − x/λ)) / (1 + τ |∇(div p − x/λ)|), Y = X − λ div p,
    with div = −∇ᵀ."""
    x = np.asarray(x, np.float64)

    def grad(u):
        gx = np.zeros_like(u)
        gy = np.zeros_like(u)
        gx[:, :-1] = u[:, 1:] - u[:, :-1]
        gy[:-1, :] = u[1:, :] - u[:-1, :]
        return gx, gy

    def div(px, py):  # −∇ᵀ
        d = np.zeros_like(px)
        d[:, 0] += px[:, 0]
        d[:, 1:] += px[:, 1:] - px[:, :-1]
        d[0, :] += py[0, :]
        d[1:, :] += py[1:, :] - py[:-1, :]
        return d

    px = np.zeros_like(x)
    py = np.zeros_like(x)
    for _ in range(n_iter):
        gx, gy = grad(div(px, py) - x / lam)
        gx[:, -1] = 0.0
        gy[-1, :] = 0.0
        norm = np.sqrt(gx**2 + gy**2)
        px = (px + tau * gx) / (1 + tau * norm)
        py = (py + tau * gy) / (1 + tau * norm)
    return x - lam * div(px, py)
