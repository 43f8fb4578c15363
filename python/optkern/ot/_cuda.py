"""sinkhorn on a CUDA device: CuPy arrays and torch CUDA tensors in place, NumPy inputs staged.

The checks are the CPU path's (optkern.ot._checks), done on the device through the one array
layer (optkern._arrays: a few reductions, read back as Python numbers); the kernel checks the
marginals again.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optkern import _arrays, _backend, _gpu
from optkern._validation import broadcast_batch, describe, fail, is_gpu_array
from optkern.ot import _checks, _range
from optkern.ot._result import make_result


def _soft_c_transform(f: Any, M: Any, a: Any, b: Any, reg: float) -> Any:
    """g = reg log b - reg LSE_i((f_i - M_ij) / reg) over a_i > 0, in float64, on M's device
    (the potential g that a warm start from f alone begins with)."""
    xp = _arrays.namespace(M, "M")

    def wide(v: Any) -> Any:
        return xp.astype(v, xp.float64)

    x = (wide(f)[..., :, None] - wide(M)) / reg
    x = xp.where(wide(a)[..., :, None] > 0, x, -math.inf)
    top = xp.max(x, axis=-2)
    lse = top + xp.log(xp.sum(xp.exp(x - top[..., None, :]), axis=-2))
    g = reg * (xp.log(wide(b)) - lse)
    return xp.astype(xp.where(xp.isfinite(g), g, 0.0), M.dtype)


def _row_sums(x: Any) -> np.ndarray:
    """The sums along the last axis, in float64, read back to the host."""
    xp = _arrays.namespace(x)
    return _arrays.to_numpy(xp.sum(xp.astype(x, xp.float64), axis=-1))


def sinkhorn(M: Any, a: Any, b: Any, reg: float, tol: float, max_iter: int, method: int,
             init: Any):
    if any(is_gpu_array(x) for x in (M, a, b)) or (
        isinstance(init, (tuple, list)) and any(is_gpu_array(x) for x in init)
    ):
        return _on_gpu_arrays(M, a, b, reg, tol, max_iter, method, init)
    p = _checks.prepare(M, a, b, reg, init)
    # near overflow, the kernel runs on (M / s, reg / s), exactly (ot/_range.py)
    scale = _range.problem_scale(p, reg)
    p, reg = _range.scaled(p, scale), reg / scale
    B, m, n = p.batch, p.m, p.n
    plan = np.empty((B, m, n), p.dtype)
    f = np.empty((B, m), p.dtype)
    g = np.empty((B, n), p.dtype)
    if B == 0:
        return make_result(p.batch_shape, m, n, plan, f, g, _empty_stats())
    with _gpu.HostStaging() as staging:
        ptr = {name: staging.upload(x) for name, x in (("M", p.M), ("a", p.a), ("b", p.b))}
        ptr["init"] = staging.upload(p.init_g) if p.init_g is not None else 0
        out = {name: staging.alloc(x.nbytes) for name, x in (("plan", plan), ("f", f), ("g", g))}
        stats = _backend._cuda.ot.sinkhorn(
            p.dtype.char, B, m, n,
            ptr["M"], _stride(p.M, m * n), ptr["a"], _stride(p.a, m),
            ptr["b"], _stride(p.b, n), ptr["init"],
            _stride(p.init_g, n) if p.init_g is not None else 0,
            reg, tol, max_iter, 10, method, out["plan"], out["f"], out["g"], staging.stream)
        for name, x in (("plan", plan), ("f", f), ("g", g)):
            staging.download(out[name], x)
    return _range.unscaled(make_result(p.batch_shape, m, n, plan, f, g, stats), scale)


def _stride(x: Any, item: int) -> int:
    """Batch stride of a stacked (1 | B, ...) operand: 0 when it is shared."""
    return 0 if x.shape[0] == 1 else item


def _empty_stats() -> tuple:
    return (np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, bool),
            np.zeros(0, np.int64))


def _stack(x: Any, core: int, batch_shape: tuple[int, ...]) -> Any:
    """x (batch..., core...) as a contiguous (1 | B, core...) device array."""
    shape = tuple(x.shape)
    own, tail = shape[: len(shape) - core], shape[len(shape) - core:]
    if math.prod(own) != 1 and own != batch_shape:
        x = _arrays.broadcast_to(x, batch_shape + tail)
    lead = 1 if math.prod(own) == 1 else math.prod(batch_shape)
    return _arrays.contiguous(_arrays.contiguous(x).reshape((lead,) + tail))


def device_problem(M: Any, a: Any, b: Any, reg: float,
                   init: Any) -> tuple[Any, Any, Any, Any, tuple[int, ...]]:
    """The checks of optkern.ot._checks.prepare on device arrays, by their own library (a few
    reductions, read back): M, a, b and the warm start's g on the device, and the batch
    shape. Host weights or potentials given beside a device M are copied to its device."""
    M = _gpu.as_device_float(M, "M")
    dtype = _gpu.dlpack_view(M, "M").dtype
    shape = tuple(M.shape)
    if len(shape) < 2:
        fail("M", "an array with at least 2 dimensions", f"shape {shape}")
    m, n = shape[-2:]
    if m == 0 or n == 0:
        fail("M", "at least one row and one column", f"shape {shape}")
    _arrays.check_finite(M, "M")
    if _arrays.max_abs(M) / reg > _checks.MAX_COST_OVER_REG:
        fail("reg", f"a value with max|M| / reg below {_checks.MAX_COST_OVER_REG:g}", repr(reg))

    def weights(x, name, size, side):
        x = _on_device_of(M, x, name, dtype)
        if len(x.shape) < 1 or x.shape[-1] != size:
            fail(name, f"shape (..., {size}) to match the {size} {side} of M",
                 f"shape {tuple(x.shape)}")
        _arrays.check_finite(x, name, nonnegative=True)
        if np.any(_row_sums(x) <= 0):
            fail(name, "weights with a positive sum", "all zeros")
        return x

    if a is None:
        a = _arrays.asarray_like(np.full(m, 1.0 / m), M, dtype)
    else:
        a = weights(a, "a", m, "rows")
    if b is None:
        sums = _row_sums(a)
        b = _arrays.asarray_like(np.ones(sums.shape + (n,)) * (sums[..., None] / n), M, dtype)
    else:
        b = weights(b, "b", n, "columns")
    sa, sb = np.broadcast_arrays(_row_sums(a), _row_sums(b))
    gap = np.abs(sa - sb) - _checks.MASS_RTOL * np.maximum(sa, sb)
    if np.any(gap > 0):
        k = np.unravel_index(int(np.argmax(gap)), gap.shape)
        fail("b", f"the same total mass as a ({sa[k]:.9g}) to a relative "
             f"{_checks.MASS_RTOL:g}", f"{sb[k]:.9g}")
    init_g = None
    if init is not None:
        if (not isinstance(init, (tuple, list)) or len(init) != 2
                or all(x is None for x in init)):
            fail("init", "a pair (f, g) of potentials (either may be None)", describe(init))
        f0, g0 = init
        if g0 is not None:
            init_g = _potentials(M, g0, "init", n, dtype)
        else:
            f0 = _potentials(M, f0, "init", m, dtype)
            init_g = _soft_c_transform(f0, M, a, b, reg)
    shapes = [(shape[:-2], "M"), (tuple(a.shape[:-1]), "a"), (tuple(b.shape[:-1]), "b")]
    if init_g is not None:
        shapes.append((tuple(init_g.shape[:-1]), "init"))
    return M, a, b, init_g, broadcast_batch(shapes)


def _on_gpu_arrays(M: Any, a: Any, b: Any, reg: float, tol: float, max_iter: int, method: int,
                   init: Any) -> Any:
    if not is_gpu_array(M):
        fail("M", "a GPU array like the other operands", describe(M))
    M, a, b, init_g, batch_shape = device_problem(M, a, b, reg, init)
    m, n = M.shape[-2:]
    dtype = _gpu.dlpack_view(M, "M").dtype
    # near overflow, the kernel runs on (M / s, reg / s), exactly (ot/_range.py)
    scale = _range.scale_for(M, reg, dtype)
    M, init_g, reg = _range.divide(M, scale), _range.divide(init_g, scale), reg / scale
    B = math.prod(batch_shape)
    Ms = _stack(M, 2, batch_shape)
    As = _stack(a, 1, batch_shape)
    Bs = _stack(b, 1, batch_shape)
    Gs = _stack(init_g, 1, batch_shape) if init_g is not None else None
    plan = _gpu.empty_like_kind(M, (B, m, n), dtype)
    f = _gpu.empty_like_kind(M, (B, m), dtype)
    g = _gpu.empty_like_kind(M, (B, n), dtype)
    if B == 0:
        return make_result(batch_shape, m, n, plan, f, g, _empty_stats())
    stream = _gpu.current_stream(M)
    arrays = [(Ms, "M"), (As, "a"), (Bs, "b"), (plan, "plan"), (f, "f"), (g, "g")]
    if Gs is not None:
        arrays.append((Gs, "init"))
    views = _gpu.device_views(arrays, stream)
    vM, vA, vB, vP, vF, vG = views[:6]
    stats = _backend._cuda.ot.sinkhorn(
        dtype.char, B, m, n,
        vM.ptr, _stride(Ms, m * n), vA.ptr, _stride(As, m), vB.ptr, _stride(Bs, n),
        views[6].ptr if Gs is not None else 0, _stride(Gs, n) if Gs is not None else 0,
        reg, tol, max_iter, 10, method, vP.ptr, vF.ptr, vG.ptr, stream)
    return _range.unscaled(make_result(batch_shape, m, n, plan, f, g, stats), scale)


def _on_device_of(M: Any, x: Any, name: str, dtype: np.dtype) -> Any:
    """x as a `dtype` array on M's device (copied there if it is a host array)."""
    if is_gpu_array(x):
        return _gpu.as_device_float(x, name, dtype)
    return _arrays.asarray_like(np.asarray(x), M, dtype)


def _potentials(M: Any, x: Any, name: str, size: int, dtype: np.dtype) -> Any:
    """Potentials for a warm start: finite, last dimension `size`, on M's device."""
    x = _on_device_of(M, x, name, dtype)
    if len(x.shape) < 1 or x.shape[-1] != size:
        fail(name, f"potentials with a last dimension of {size}", f"shape {tuple(x.shape)}")
    _arrays.check_finite(x, name)
    return x
