"""Smoke test of an installed optkern: every public function on a small input, checked against
NumPy, on whatever SIMD level was chosen. Run it as a script from outside the source tree
(`python tests/packaging/smoke.py`); it prints one JSON line with the level and the number of
checks.

It is what the packaging check runs on a repaired wheel, natively and under emulated CPUs
(qemu-x86_64 -cpu EPYC-Milan-v1 / Nehalem-v1), and what tests/packaging/test_portability.py
runs with each level forced, so it is kept standalone (NumPy only) and fast under emulation.
"""

import json
import sys

import numpy as np

import optkern
from optkern import givens, linalg, optimize, ot, tv

checks = 0


def check(ok, what):
    global checks
    if not ok:
        raise AssertionError(f"smoke: {what}")
    checks += 1


def close(a, b, tol, what):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    err = np.abs(a - b).max() / max(1.0, np.abs(b).max())
    check(a.shape == b.shape and err <= tol, f"{what}: error {err:.3g} > {tol:g}")


rng = np.random.default_rng(0)

# --- linalg -----------------------------------------------------------------------------------
for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-13)):
    for m, k, n in ((3, 4, 5), (17, 9, 33), (70, 40, 90)):
        a = rng.standard_normal((4, m, k)).astype(dtype)
        b = rng.standard_normal((4, k, n)).astype(dtype)
        c = linalg.bmm(a, b)
        check(c.dtype == dtype, "bmm keeps the dtype")
        close(c, a.astype(np.float64) @ b, tol * k, f"bmm {dtype.__name__} {m}x{k}x{n}")
    close(linalg.bmm(a, b[0]), a.astype(np.float64) @ b[0], tol * 40, "bmm broadcast")

n = 9
lower, diag, upper = rng.random(n), 4 + rng.random(n), rng.random(n)
rhs = rng.standard_normal((3, n))
dense = np.diag(diag) + np.diag(lower[1:], -1) + np.diag(upper[:-1], 1)
close(linalg.tridiagonal_solve(lower, diag, upper, rhs), np.linalg.solve(dense, rhs.T).T, 1e-12,
      "tridiagonal_solve")

# --- tv ---------------------------------------------------------------------------------------


def tv_optimal(x, y, lam, tol):
    """The prox's optimality conditions: x - y = D^T z with z_k in lam * d|.|(y[k+1] - y[k]),
    so z = -cumsum(x - y) has |z| <= lam, ends at 0, and equals lam * sign(y[k+1] - y[k])
    wherever y jumps."""
    z = -np.cumsum(x - y)
    scale = max(1.0, lam)
    jumps = np.abs(np.diff(y)) > 1e-6 * max(1.0, np.abs(y).max())
    return (abs(z[-1]) <= tol * scale * len(x) and np.all(np.abs(z[:-1]) <= lam + tol * scale)
            and np.allclose(z[:-1][jumps], lam * np.sign(np.diff(y))[jumps], atol=tol * scale))


x = np.repeat(rng.standard_normal(6), 20) + 0.3 * rng.standard_normal(120)
for dtype, tol in ((np.float64, 1e-9), (np.float32, 1e-3)):
    xd = x.astype(dtype)
    y = tv.denoise(xd, 0.5)
    check(y.dtype == dtype and tv_optimal(x, y.astype(np.float64), 0.5, tol),
          f"tv.denoise exact {dtype.__name__}")
y = tv.denoise(x, 0.5)
y_irls = tv.denoise(x, 0.5, method="irls", tol=1e-10, max_iter=5000)
close(y_irls, y, 1e-3, "tv.denoise irls")
lam_max = tv.lambda_max(x)
close(tv.denoise(x, 1.01 * lam_max), np.full_like(x, x.mean()), 1e-12, "tv.lambda_max")
g = rng.standard_normal(x.shape)
grad_x, grad_lam = tv.denoise_vjp(y, g, 0.5)
segments = np.concatenate([[0], np.cumsum(np.abs(np.diff(y)) > 1e-9)])
means = np.bincount(segments, g) / np.bincount(segments)
close(grad_x, means[segments], 1e-12, "tv.denoise_vjp segment means")
h = 1e-6
fd = (g @ tv.denoise(x, 0.5 + h) - g @ tv.denoise(x, 0.5 - h)) / (2 * h)
close(grad_lam, fd, 1e-5, "tv.denoise_vjp grad_lam")

# --- ot ---------------------------------------------------------------------------------------
M = rng.random((7, 5))
a, b = np.full(7, 1 / 7), np.full(5, 1 / 5)
reg = 0.1
K = np.exp(-M / reg)
u, v = np.ones(7), np.ones(5)
for _ in range(2000):
    u = a / (K @ v)
    v = b / (K.T @ u)
P_ref = u[:, None] * K * v[None, :]
for method in ("plain", "log"):
    res = ot.sinkhorn(M, reg=reg, method=method, tol=1e-12)
    check(res.converged, f"ot.sinkhorn {method} converged")
    close(res.plan, P_ref, 1e-9, f"ot.sinkhorn {method}")
res32 = ot.sinkhorn(M.astype(np.float32), reg=reg)
close(res32.plan, P_ref, 1e-5, "ot.sinkhorn float32")
value = ot.sinkhorn_cost(M, reg=reg, tol=1e-12)
close(value, np.sum(M * P_ref) + reg * np.sum(P_ref * (np.log(P_ref) - 1)), 1e-9,
      "ot.sinkhorn_cost")
W = rng.standard_normal(M.shape)
grad_M, grad_a, grad_b = ot.sinkhorn_vjp(P_ref, W, reg)
close(grad_M.sum(axis=0), np.zeros(5), 1e-10, "ot.sinkhorn_vjp column sums")
D = rng.standard_normal(M.shape)
h = 1e-5
fd = (np.sum(W * ot.sinkhorn(M + h * D, reg=reg, tol=1e-13).plan)
      - np.sum(W * ot.sinkhorn(M - h * D, reg=reg, tol=1e-13).plan)) / (2 * h)
close(np.sum(grad_M * D), fd, 1e-5, "ot.sinkhorn_vjp directional derivative")

# --- optimize ---------------------------------------------------------------------------------
for method in ("lbfgs", "bfgs", "newton"):
    r = optimize.minimize(optimize.problems.rosenbrock(4), np.zeros(4), method=method)
    check(r.success, f"optimize.minimize {method}: {r.message}")
    close(r.x, np.ones(4), 1e-4, f"optimize.minimize {method}")
r = optimize.minimize(optimize.problems.quadratic(5, cond=10.0), np.ones(5), method="gd")
check(r.success and r.fun < 1e-8, f"optimize.minimize gd: {r.message}")


def quadratic(z):
    return 0.5 * float(z @ z) + float(z.sum()), z + 1.0


r = optimize.minimize(quadratic, np.zeros(6))
close(r.x, -np.ones(6), 1e-6, "optimize.minimize Python objective")
rb = optimize.minimize_batch(optimize.problems.rosenbrock(3), rng.random((5, 3)))
close(rb.x, np.ones((5, 3)), 1e-4, "optimize.minimize_batch")

# --- givens -----------------------------------------------------------------------------------
d = 8
U = givens.planted(d, 12, rng)
seq = givens.factorize(U, 40)
try:
    import scipy  # noqa: F401  (symmetrized_frobenius's optional dependency)
except ImportError:
    try:
        givens.symmetrized_frobenius(U, seq.to_dense(), normalize=True)
    except ImportError as exc:
        check("needs SciPy" in str(exc), "symmetrized_frobenius names SciPy")
    else:
        check(False, "symmetrized_frobenius without SciPy")
else:
    err = givens.symmetrized_frobenius(U, seq.to_dense(), normalize=True)
    check(err < 0.5, f"givens.factorize l1 error {err:.3g}")
dense = seq.to_dense()
check(np.allclose(dense @ dense.T, np.eye(d), atol=1e-12), "givens.factorize orthogonal")
v = rng.standard_normal(d)
close(seq.apply(v), seq.to_dense() @ v, 1e-12, "GivensSequence.apply")
for method in ("greedy", "elimination"):
    s2 = givens.factorize(U, 28, method=method)
    check(len(s2) <= 28, f"givens.factorize {method}")
L = givens.laplacian(givens.barabasi_albert(d, 2, rng))
check(np.allclose(L, L.T) and np.allclose(L.sum(axis=1), 0), "givens.laplacian")
J = givens.jacobi(L, 40).to_dense()
check(np.allclose(J @ J.T, np.eye(d), atol=1e-12), "givens.jacobi orthogonal")

print(json.dumps({"simd": optkern.build_info()["simd"], "checks": checks,
                  "python": sys.version.split()[0]}))
