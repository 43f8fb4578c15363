"""optkern.optimize.minimize_batch with bounds on a CUDA device (L-BFGS-B, one problem per GPU
thread, lbfgsb_machine.hpp) against the CPU batch path (lbfgsb.hpp): per-problem boxes with
finite, one-sided and infinite bounds, starts outside the box, the forms ``bounds`` takes,
GPU arrays, and the checks of bounds. The host-side preparation of the bounds runs here too."""

import numpy as np
import pytest
from conftest import ACCUMULATED, APPROXIMATE, EPS

from optkern.optimize import _cuda, minimize_batch, problems

CASES = [("rosenbrock", 8), ("extended_powell", 8), ("quadratic", 16), ("trigonometric", 10),
         ("broyden_tridiagonal", 12), ("discrete_boundary_value", 10),
         ("variably_dimensioned", 6), ("extended_rosenbrock", 4), ("rosenbrock_averaged", 5)]


def boxed_starts(p, batch, dtype, seed=0):
    """Starts around p.x0, and per-problem bounds (B, n, 2): each variable of each problem is
    boxed on both sides, on one side (lower or upper), or not at all; the boxes sit around
    the start with a random offset, so they cut off the minimiser on some variables, and
    some starts lie outside their box."""
    rng = np.random.default_rng(seed)
    x0 = p.x0 + 0.5 * rng.standard_normal((batch, p.n))
    centre = x0 + 0.3 * rng.standard_normal((batch, p.n))
    half = rng.uniform(0.1, 1.0, (batch, p.n))
    lo, hi = centre - half, centre + half
    kind = rng.integers(0, 4, (batch, p.n))  # 0 both, 1 lower only, 2 upper only, 3 none
    lo[(kind == 2) | (kind == 3)] = -np.inf
    hi[(kind == 1) | (kind == 3)] = np.inf
    return x0.astype(dtype), np.stack([lo, hi], axis=-1)


def active(x, box):
    return np.concatenate([x == box[..., 0].astype(x.dtype), x == box[..., 1].astype(x.dtype)],
                          axis=1)


def assert_in_box(x, box):
    lo, hi = box[..., 0].astype(x.dtype), box[..., 1].astype(x.dtype)
    assert ((x >= lo) & (x <= hi)).all()


@pytest.mark.cuda
@pytest.mark.parametrize(("name", "n"), CASES)
def test_gpu_bounded_batch_matches_the_cpu(name, n, dtype):
    p = problems.get(name, n)
    x0, box = boxed_starts(p, 300, dtype)
    lo, hi = box[..., 0].astype(dtype), box[..., 1].astype(dtype)
    assert ((x0 < lo) | (x0 > hi)).any()  # some starts lie outside their box
    tight = dict(gtol=1e-8 if dtype == np.float64 else 1e-3, max_iter=5000, max_fev=10000)
    cpu = minimize_batch(p, x0, bounds=box, **tight)
    gpu = minimize_batch(p, x0, bounds=box, device="cuda", **tight)
    assert type(gpu.x) is np.ndarray and gpu.x.dtype == dtype and gpu.x.shape == x0.shape
    assert_in_box(gpu.x, box)
    # the same algorithm (rounding differs: FMA contraction, summation order), so the
    # evaluation counts are alike, and both end at the same constrained minimiser: the same
    # f and the same active bounds. (In float32 a bounded run often ends in the rounding
    # noise of f with SciPy's "abnormal" status 2, on the CPU as well: only a limit reached,
    # status 1, counts as not ended.)
    assert np.median(np.abs(gpu.nfev - cpu.nfev) / cpu.nfev) <= 0.2
    both = (cpu.status != 1) & (gpu.status != 1)
    assert both.mean() > 0.9
    if dtype == np.float64:
        assert (cpu.success & gpu.success).mean() > 0.9
    tol = 2 * APPROXIMATE[dtype]
    close = np.abs(gpu.fun - cpu.fun) <= tol * np.maximum(1, np.abs(cpu.fun))
    assert close[both].mean() > 0.95
    same_active = (active(gpu.x, box) == active(cpu.x, box)).all(axis=1)
    assert same_active[both & close].mean() > 0.9
    f_at_x, g_at_x = p(gpu.x)
    np.testing.assert_allclose(gpu.fun, f_at_x, rtol=ACCUMULATED[dtype], atol=10 * EPS[dtype])
    np.testing.assert_allclose(gpu.jac, g_at_x, rtol=ACCUMULATED[dtype],
                               atol=ACCUMULATED[dtype] * max(1.0, np.abs(g_at_x).max()))
    assert np.all(gpu.nhev == 0)


@pytest.mark.cuda
def test_gpu_start_outside_the_box_is_moved_in(dtype):
    p = problems.rosenbrock(6)
    x0, box = boxed_starts(p, 64, dtype, seed=5)
    x0 = x0 + np.where(np.arange(6) % 2 == 0, 3, -3).astype(dtype)  # most rows leave the box
    # no iteration: the result is x0 moved into the box, as on the CPU
    cpu = minimize_batch(p, x0, bounds=box, max_iter=0)
    gpu = minimize_batch(p, x0, bounds=box, max_iter=0, device="cuda")
    np.testing.assert_array_equal(gpu.x, np.clip(x0, box[..., 0], box[..., 1]).astype(dtype))
    np.testing.assert_array_equal(gpu.x, cpu.x)
    np.testing.assert_array_equal(gpu.status, cpu.status)
    np.testing.assert_allclose(gpu.fun, cpu.fun, rtol=ACCUMULATED[dtype])


@pytest.mark.cuda
def test_gpu_bounds_forms(dtype):
    p = problems.rosenbrock(4)
    rng = np.random.default_rng(2)
    x0 = rng.uniform(-1.5, 1.5, (50, 4)).astype(dtype)

    class Box:  # Bounds-like: lb and ub that broadcast to (B, n)
        lb = np.array([-2.0, 0.2, -np.inf, -1.0])
        ub = np.array([0.5, np.inf, 0.7, np.inf])

    pairs = [(-2.0, 0.5), (0.2, None), (None, 0.7), (-1.0, None)]  # shared by every problem
    full = np.broadcast_to(np.stack([Box.lb, Box.ub], axis=-1), (50, 4, 2))
    reference = minimize_batch(p, x0, bounds=full, device="cuda")
    assert_in_box(reference.x, full)
    assert (reference.x[:, 0] == dtype(0.5)).mean() > 0.5  # the cut-off minimiser: x0 = 0.5
    for bounds in (pairs, Box()):
        res = minimize_batch(p, x0, bounds=bounds, device="cuda")
        np.testing.assert_array_equal(res.x, reference.x)
        np.testing.assert_array_equal(res.nfev, reference.nfev)
    cpu = minimize_batch(p, x0, bounds=pairs)
    tol = 2 * APPROXIMATE[dtype]
    assert (np.abs(reference.fun - cpu.fun) <= tol * np.maximum(1, np.abs(cpu.fun))).mean() > 0.9
    # infinite bounds everywhere are no bounds: plain L-BFGS, as on the CPU
    free = minimize_batch(p, x0, device="cuda")
    for bounds in ([(None, None)] * 4, np.stack([np.full((50, 4), -np.inf),
                                                 np.full((50, 4), np.inf)], axis=-1)):
        res = minimize_batch(p, x0, bounds=bounds, device="cuda")
        np.testing.assert_array_equal(res.x, free.x)
        np.testing.assert_array_equal(res.nfev, free.nfev)


@pytest.mark.cuda
def test_gpu_arrays_with_bounds():
    p = problems.rosenbrock(8)
    x0, box = boxed_starts(p, 500, np.float64, seed=4)
    libraries = []
    try:
        import torch

        if torch.cuda.is_available():
            libraries.append(("torch", torch.as_tensor(x0, device="cuda"),
                              torch.as_tensor(box, device="cuda")))
    except ImportError:
        pass
    try:
        import cupy

        libraries.append(("cupy", cupy.asarray(x0), cupy.asarray(box)))
    except ImportError:
        pass
    if not libraries:
        pytest.skip("neither torch with CUDA nor CuPy is installed")
    reference = minimize_batch(p, x0, bounds=box, device="cuda")
    for name, array, bounds in libraries:
        for given in (box, bounds):  # NumPy bounds with GPU x0, and GPU bounds
            res = minimize_batch(p, array, bounds=given, device="auto")
            assert type(res.x) is type(array), name
            x = res.x.cpu().numpy() if name == "torch" else res.x.get()
            np.testing.assert_array_equal(x, reference.x)
            np.testing.assert_array_equal(res.nfev, reference.nfev)


@pytest.mark.cuda
def test_gpu_bad_bounds():
    p = problems.rosenbrock(2)
    x0 = np.zeros((3, 2))
    for bounds, match in [(np.zeros((2, 2, 2)), "^bounds:"),
                          ([(np.nan, 1), (0, 1)], "^bounds:.*NaN"),
                          ([(1, 0), (0, 1)], "^bounds:.*lower <= upper"),
                          ([(np.inf, np.inf), (0, 1)], "^bounds:.*empty"),
                          ([(0, 1)], "^bounds:")]:
        with pytest.raises(ValueError, match=match):
            minimize_batch(p, x0, bounds=bounds, device="cuda")
    empty = minimize_batch(p, np.zeros((0, 2)), bounds=[(0, 1)] * 2, device="cuda")
    assert len(empty) == 0


def test_bounds_are_prepared_on_the_host_as_on_the_cpu():
    # what the CUDA path uploads: C-contiguous (B, n) arrays in x0's dtype, from every form
    class Box:
        lb = np.array([0.0, -np.inf])
        ub = 2.0

    for bounds in ([(0, 2), (None, 2)], Box(),
                   np.broadcast_to(np.array([[0.0, 2.0], [-np.inf, 2.0]]), (3, 2, 2))):
        lo, hi = _cuda._box(bounds, 3, 2, np.dtype(np.float32))
        for a in (lo, hi):
            assert a.shape == (3, 2) and a.dtype == np.float32 and a.flags.c_contiguous
        np.testing.assert_array_equal(lo, [[0, -np.inf]] * 3)
        np.testing.assert_array_equal(hi, [[2, 2]] * 3)
    assert _cuda._box(None, 3, 2, np.dtype(np.float64)) is None
    assert _cuda._box([(None, None)] * 2, 3, 2, np.dtype(np.float64)) is None
    with pytest.raises(ValueError, match="^bounds:.*lower <= upper"):
        _cuda._box([(1, 0), (0, 1)], 3, 2, np.dtype(np.float64))
