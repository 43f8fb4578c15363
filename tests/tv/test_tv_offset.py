"""The exact 1-D TV solver under large offsets, at small λ (short segments, many jumps):
denoise(x + c, λ) − c must equal denoise(x, λ) up to the rounding of x + c itself, and the
optimality certificate must hold at every λ of a grid from 0.01σ to λ_max/10. With one weight
per edge (U(0, 2λ)), the offset result must be as close as prox_tv's tv1w_1d manages."""

import numpy as np
import pytest
from reference import tv as ref

from optkern.tv import denoise, lambda_max

N = 20_000


def signals(rng):
    walk = np.cumsum(rng.standard_normal(N)) + rng.standard_normal(N)
    blocks = np.repeat(rng.standard_normal(N // 100 + 1), 100)[:N] + 0.1 * rng.standard_normal(N)
    return {"walk": (walk, 1.0), "blocks": (blocks, 0.1), "noise": (rng.standard_normal(N), 1.0),
            "sine": (np.sin(np.linspace(0, 20, N)) + 0.3 * rng.standard_normal(N), 0.3)}


def lambdas(x, sigma):
    return np.geomspace(0.01 * sigma, lambda_max(x) / 10, 6)


@pytest.mark.parametrize("kind", ["walk", "blocks", "noise", "sine"])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_offset_changes_the_result_only_by_its_rounding(rng, kind, sign):
    x, sigma = signals(rng)[kind]
    eps = np.finfo(np.float64).eps
    for c in (sign * 1e6, sign * 1e6 * x.std()):
        shifted = x + c
        for lam in lambdas(x, sigma):
            y = denoise(x, lam)
            back = denoise(shifted, lam) - c
            # x + c and the result are each rounded once, by at most half an ulp of |c|
            # (the drift before the exact rises was 5e-3 at c = 1e6, λ = 0.1, n = 1e6)
            assert np.abs(back - y).max() <= 1.5 * eps * (abs(c) + np.abs(x).max()), (c, lam)


@pytest.mark.parametrize("kind", ["walk", "blocks", "noise", "sine"])
def test_certificate_at_small_lambda_with_and_without_offset(rng, kind):
    x, sigma = signals(rng)[kind]
    eps = np.finfo(np.float64).eps
    c = 1e6
    for lam in lambdas(x, sigma):
        y = denoise(x, lam)
        # z = cumsum(x - y): |z_k| <= λ, z_n = 0, z_k = ±λ at each jump; the check's own
        # cumulative sum is good to n eps max|x| or so
        bound, end, at_jumps = ref.certificate(x, y, lam)
        tol = 1e-9 * lam + N * eps * np.abs(x).max()
        assert max(bound, end, at_jumps) <= tol, (lam, bound, end, at_jumps)
        # With the offset, every y_k (and x_k + c) carries a rounding of up to half an ulp of
        # c, which the running sum z adds up: at most k ulp(c) at position k.
        yc = denoise(x + c, lam)
        z = np.cumsum((x + c) - yc)
        slack = np.arange(1, N + 1) * np.spacing(c) + tol
        assert (np.abs(z[:-1]) <= lam + slack[:-1]).all()
        jumps = yc[:-1] != yc[1:]
        assert jumps.sum() >= 0.5 * (y[:-1] != y[1:]).sum()
        sign = np.sign(yc[:-1] - yc[1:])
        assert (np.abs(z[:-1] - lam * sign)[jumps] <= slack[:-1][jumps]).all()


def test_float32_offsets(rng):
    x = (np.cumsum(rng.standard_normal(4000)) + rng.standard_normal(4000)).astype(np.float32)
    eps = np.finfo(np.float32).eps
    c = np.float32(1e4)
    for lam in (0.01, 0.1, 1.0):
        y = denoise(x, lam).astype(np.float64)
        back = denoise(x + c, lam).astype(np.float64) - float(c)
        # float32: x + c and the result are rounded in float32; the solver works in float64
        assert np.abs(back - y).max() <= 1.5 * eps * (float(c) + np.abs(x).max()) + 2 * eps * \
            np.abs(y).max()


@pytest.mark.parametrize("kind", ["walk", "blocks", "noise", "sine"])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_weighted_offset_changes_the_result_only_by_its_rounding(rng, kind, sign):
    x, sigma = signals(rng)[kind]
    eps = np.finfo(np.float64).eps
    try:
        import prox_tv
    except ImportError:
        prox_tv = None
    for c in (sign * 1e6, sign * 1e6 * x.std()):
        for lam in lambdas(x, sigma):
            w = rng.uniform(0, 2 * lam, N - 1)
            w[rng.random(N - 1) < 0.05] = 0.0
            drift = np.abs(denoise(x + c, w) - c - denoise(x, w)).max()
            # the rounding of x + c and of the result, or prox_tv's drift if that is larger
            bound = 1.5 * eps * (abs(c) + np.abs(x).max())
            if prox_tv is not None:
                peer = np.abs(prox_tv.tv1w_1d(x + c, w) - c - prox_tv.tv1w_1d(x, w)).max()
                bound = max(bound, peer)
            assert drift <= bound, (c, lam, drift, bound)
