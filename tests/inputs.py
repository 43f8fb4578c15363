"""Random inputs that several test files draw: signals for TV, point clouds for OT."""

import numpy as np


def signal(rng, n, kind):
    """A signal of length n: white noise, a random walk, noisy blocks of 10, or ties (small
    integers, so that many neighbours are equal)."""
    if kind == "noise":
        return rng.standard_normal(n)
    if kind == "walk":
        return np.cumsum(rng.standard_normal(n))
    if kind == "blocks":
        levels = rng.standard_normal(max(1, n // 10 + 1))
        return np.repeat(levels, 10)[:n] + 0.1 * rng.standard_normal(n)
    if kind == "ties":
        return rng.integers(0, 3, n).astype(float)
    raise ValueError(kind)


def point_clouds(rng, m, n, d, shift):
    """x (m, d) and y (n, d) normal, y shifted by `shift`, and positive weights a, b summing
    to 1."""
    x = rng.normal(size=(m, d))
    y = rng.normal(size=(n, d)) + shift
    a = rng.random(m) + 0.2
    b = rng.random(n) + 0.2
    return x, y, a / a.sum(), b / b.sum()
