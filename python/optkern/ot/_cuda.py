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
from optkern._validation import as_float_array, broadcast_batch, describe, fail, is_gpu_array
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


# --- unbalanced Sinkhorn and point clouds (optkern.ot._unbalanced, optkern.ot._points) -------

def _device_weights(like: Any, x: Any, name: str, size: int, dtype: np.dtype,
                    side: str) -> Any:
    """The checks of optkern.ot._checks.weights on the device of `like`: shape (..., size),
    finite, >= 0, each with a total mass in MASS_RANGE (a few reductions, read back)."""
    x = _on_device_of(like, x, name, dtype)
    if len(x.shape) < 1 or x.shape[-1] != size:
        fail(name, f"shape (..., {size}) to match the {size} {side}", f"shape {tuple(x.shape)}")
    _arrays.check_finite(x, name, nonnegative=True)
    sums = _row_sums(x)
    if np.any(sums <= 0):
        fail(name, "weights with a positive sum", "all zeros")
    low, high = _checks.MASS_RANGE
    if np.any((sums < low) | ~(sums <= high)):
        bad = sums[(sums < low) | ~(sums <= high)].ravel()[0]
        fail(name, f"a total mass between {low:g} and {high:g} (the plan scales with the "
                   f"mass: rescale the weights)", f"{bad:.3g}")
    return x


def _unbalanced_kernel(dtype: np.dtype, B: int, m: int, n: int, ptr: dict, strides: dict,
                       options: tuple, stream: int) -> tuple:
    reg, rho_a, rho_b, type_code, method_code, tol, max_iter = options
    return _backend._cuda.ot.sinkhorn_unbalanced(
        dtype.char, B, m, n, ptr["M"], strides["M"], ptr["a"], strides["a"], ptr["b"],
        strides["b"], reg, rho_a, rho_b, type_code, method_code, tol, max_iter, ptr["plan"],
        ptr["f"], ptr["g"], stream)


def _empty_unbalanced_stats() -> tuple:
    return (np.zeros(0, np.int64), np.zeros(0), np.zeros(0, bool), np.zeros(0, np.int32),
            np.zeros(0), np.zeros(0))


def sinkhorn_unbalanced(M: np.ndarray, a: np.ndarray, b: np.ndarray,
                        batch_shape: tuple[int, ...], options: tuple) -> tuple:
    """Host arrays checked by optkern.ot._unbalanced (M (..., m, n), a, b of M's dtype),
    staged to the device: (plan (B, m, n), f (B, m), g (B, n), the kernel's statistics).
    options: (reg, rho_a, rho_b, reg_type, method, tol, max_iter)."""
    dtype = M.dtype
    m, n = M.shape[-2:]
    B = math.prod(batch_shape)
    plan = np.empty((B, m, n), dtype)
    f = np.empty((B, m), dtype)
    g = np.empty((B, n), dtype)
    if B == 0:
        return plan, f, g, _empty_unbalanced_stats()
    stacked = {"M": _checks.stack(M, 2, batch_shape), "a": _checks.stack(a, 1, batch_shape),
               "b": _checks.stack(b, 1, batch_shape)}
    strides = {"M": _stride(stacked["M"], m * n), "a": _stride(stacked["a"], m),
               "b": _stride(stacked["b"], n)}
    with _gpu.HostStaging() as staging:
        ptr = {name: staging.upload(x) for name, x in stacked.items()}
        outputs = {"plan": plan, "f": f, "g": g}
        ptr.update({name: staging.alloc(x.nbytes) for name, x in outputs.items()})
        stats = _unbalanced_kernel(dtype, B, m, n, ptr, strides, options, staging.stream)
        for name, x in outputs.items():
            staging.download(ptr[name], x)
    return plan, f, g, stats


def unbalanced_device_problem(M: Any, a: Any, b: Any,
                              reg: float) -> tuple[Any, Any, Any, tuple[int, ...]]:
    """The checks of optkern.ot._unbalanced on device arrays, by their own library (a few
    reductions, read back): M, a, b (default uniform, of mass 1) on M's device, and the batch
    shape. Host weights given beside a device M are copied to its device."""
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
    if a is None:
        a = _arrays.asarray_like(np.full(m, 1.0 / m), M, dtype)
    else:
        a = _device_weights(M, a, "a", m, dtype, "rows of M")
    if b is None:
        b = _arrays.asarray_like(np.full(n, 1.0 / n), M, dtype)
    else:
        b = _device_weights(M, b, "b", n, dtype, "columns of M")
    batch_shape = broadcast_batch([(shape[:-2], "M"), (tuple(a.shape[:-1]), "a"),
                                   (tuple(b.shape[:-1]), "b")])
    return M, a, b, batch_shape


def unbalanced_on_gpu_arrays(M: Any, a: Any, b: Any, options: tuple) -> tuple:
    """GPU arrays in place: the checks of optkern.ot._unbalanced on the device, then the
    kernel; (plan (B, m, n), f, g as the input's kind, statistics, batch shape)."""
    if not is_gpu_array(M):
        fail("M", "a GPU array like the other operands", describe(M))
    M, a, b, batch_shape = unbalanced_device_problem(M, a, b, options[0])
    dtype = _gpu.dlpack_view(M, "M").dtype
    m, n = M.shape[-2:]
    B = math.prod(batch_shape)
    stacked = {"M": _stack(M, 2, batch_shape), "a": _stack(a, 1, batch_shape),
               "b": _stack(b, 1, batch_shape)}
    outputs = {"plan": _gpu.empty_like_kind(M, (B, m, n), dtype),
               "f": _gpu.empty_like_kind(M, (B, m), dtype),
               "g": _gpu.empty_like_kind(M, (B, n), dtype)}
    if B == 0:
        return (outputs["plan"], outputs["f"], outputs["g"], _empty_unbalanced_stats(),
                batch_shape)
    stream = _gpu.current_stream(M)
    arrays = [(x, name) for name, x in {**stacked, **outputs}.items()]
    views = _gpu.device_views(arrays, stream)
    ptr = {name: view.ptr for (_, name), view in zip(arrays, views)}
    strides = {"M": _stride(stacked["M"], m * n), "a": _stride(stacked["a"], m),
               "b": _stride(stacked["b"], n)}
    stats = _unbalanced_kernel(dtype, B, m, n, ptr, strides, options, stream)
    return outputs["plan"], outputs["f"], outputs["g"], stats, batch_shape


def _points_kernel(dtype: np.dtype, B: int, m: int, n: int, d: int, ptr: dict, strides: dict,
                   options: tuple, stream: int) -> tuple:
    reg, cost_code, tol, max_iter = options
    return _backend._cuda.ot.sinkhorn_points(
        dtype.char, B, m, n, d, ptr["x"], strides["x"], ptr["y"], strides["y"], ptr["a"],
        strides["a"], ptr["b"], strides["b"], ptr.get("init", 0), strides.get("init", 0), reg,
        cost_code, tol, max_iter, ptr["f"], ptr["g"], stream)


def _empty_points_stats() -> tuple:
    return (np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, bool))


def sinkhorn_points(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray, g0: Any,
                    batch_shape: tuple[int, ...], options: tuple) -> tuple:
    """Host arrays checked by optkern.ot._points (x, y, a, b of one dtype; g0 None or
    float64), staged to the device: (f (B, m), g (B, n) float64, the kernel's statistics).
    options: (reg, cost, tol, max_iter)."""
    m, n, d = x.shape[-2], y.shape[-2], x.shape[-1]
    B = math.prod(batch_shape)
    f = np.empty((B, m))
    g = np.empty((B, n))
    if B == 0:
        return f, g, _empty_points_stats()
    stacked = {"x": _checks.stack(x, 2, batch_shape), "y": _checks.stack(y, 2, batch_shape),
               "a": _checks.stack(a, 1, batch_shape), "b": _checks.stack(b, 1, batch_shape)}
    if g0 is not None:
        stacked["init"] = _checks.stack(np.asarray(g0, np.float64), 1, batch_shape)
    sizes = {"x": m * d, "y": n * d, "a": m, "b": n, "init": n}
    strides = {name: _stride(v, sizes[name]) for name, v in stacked.items()}
    with _gpu.HostStaging() as staging:
        ptr = {name: staging.upload(v) for name, v in stacked.items()}
        ptr.update({"f": staging.alloc(f.nbytes), "g": staging.alloc(g.nbytes)})
        stats = _points_kernel(x.dtype, B, m, n, d, ptr, strides, options, staging.stream)
        staging.download(ptr["f"], f)
        staging.download(ptr["g"], g)
    return f, g, stats


def points_device_problem(x: Any, y: Any, a: Any, b: Any, init: Any, cost_name: str,
                          reg: float) -> tuple:
    """The checks of optkern.ot._points on device arrays, by their own library (a few
    reductions read back): x, y, a, b (b by default uniform with the mass of a) and the warm
    start g0 (float64, or None) on x's device, and the batch shape. Host operands given beside
    a device x are copied to its device."""
    x = _gpu.as_device_float(x, "x")
    if isinstance(y, np.ndarray) or _arrays.namespace_or_none(y) is None:  # host: copied
        y = _arrays.asarray_like(as_float_array(y, "y", contiguous=False), x)
    y = _gpu.as_device_float(y, "y")
    dtype = np.result_type(_gpu.dlpack_view(x, "x").dtype, _gpu.dlpack_view(y, "y").dtype)
    x, y = _gpu.as_device_float(x, "x", dtype), _gpu.as_device_float(y, "y", dtype)
    for arr, name in ((x, "x"), (y, "y")):
        if len(arr.shape) < 2:
            fail(name, "an array with at least 2 dimensions", f"shape {tuple(arr.shape)}")
    if x.shape[-1] != y.shape[-1]:
        fail("y", f"points of x's dimension {x.shape[-1]} (shape (..., n, {x.shape[-1]}))",
             f"shape {tuple(y.shape)}")
    for arr, name in ((x, "x"), (y, "y")):
        if arr.shape[-2] == 0 or arr.shape[-1] == 0:
            fail(name, "at least one point of at least one coordinate",
                 f"shape {tuple(arr.shape)}")
        _arrays.check_finite(arr, name)
    m, n, d = int(x.shape[-2]), int(y.shape[-2]), int(x.shape[-1])
    # The largest cost is at most the bounding box's diameter (squared), as on the host.
    xp = _arrays.namespace(x, "x")
    lo = np.minimum(*(_arrays.to_numpy(xp.min(xp.reshape(xp.astype(v, xp.float64), (-1, d)),
                                              axis=0)) for v in (x, y)))
    hi = np.maximum(*(_arrays.to_numpy(xp.max(xp.reshape(xp.astype(v, xp.float64), (-1, d)),
                                              axis=0)) for v in (x, y)))
    with np.errstate(over="ignore", invalid="ignore"):
        top = float((((hi - lo) ** 2)).sum())
    if cost_name == "euclidean":
        top = float(np.sqrt(top))
    if not np.isfinite(top):
        fail("x, y", "clouds whose squared distances fit in float64", "an overflow")
    if top / reg > _checks.MAX_COST_OVER_REG:
        fail("reg", f"a value with max cost / reg below {_checks.MAX_COST_OVER_REG:g}",
             repr(reg))
    if a is None:
        a = _arrays.asarray_like(np.full(m, 1.0 / m), x, dtype)
    else:
        a = _device_weights(x, a, "a", m, dtype, "points of x")
    mass_a = _row_sums(a)
    if b is None:
        b = _arrays.asarray_like(np.ones(mass_a.shape + (n,)) * (mass_a[..., None] / n), x,
                                 dtype)
    else:
        b = _device_weights(x, b, "b", n, dtype, "points of y")
    try:
        sa, sb = np.broadcast_arrays(mass_a, _row_sums(b))
    except ValueError:
        fail("a, b", "batch shapes that broadcast", f"a {tuple(a.shape)}, b {tuple(b.shape)}")
    gap = np.abs(sa - sb) - _checks.MASS_RTOL * np.maximum(sa, sb)
    if np.any(gap > 0):
        k = np.unravel_index(int(np.argmax(gap)), gap.shape)
        fail("b", f"the same total mass as a ({sa[k]:.9g}) to a relative "
                  f"{_checks.MASS_RTOL:g}", f"{sb[k]:.9g}")
    shapes = [(tuple(x.shape[:-2]), "x"), (tuple(y.shape[:-2]), "y"),
              (tuple(a.shape[:-1]), "a"), (tuple(b.shape[:-1]), "b")]
    g0 = None
    if init is not None:
        g0 = _on_device_of(x, init, "init", np.dtype(np.float64))
        if len(g0.shape) < 1 or g0.shape[-1] != n:
            fail("init", f"g of shape (..., {n})", f"shape {tuple(g0.shape)}")
        _arrays.check_finite(g0, "init")
        shapes.append((tuple(g0.shape[:-1]), "init"))
    return x, y, a, b, g0, broadcast_batch(shapes)


def points_on_gpu_arrays(x: Any, y: Any, a: Any, b: Any, init: Any, cost_name: str,
                         options: tuple) -> tuple:
    """GPU clouds in place: the checks of optkern.ot._points on the device (a few reductions
    read back), then the kernel. Returns (f, g as float64 arrays of the input's kind, the
    statistics, the batch shape, and x, y, a, b as checked, on the device)."""
    if not is_gpu_array(x):
        fail("x", "a GPU array like the other operands", describe(x))
    x, y, a, b, g0, batch_shape = points_device_problem(x, y, a, b, init, cost_name,
                                                        options[0])
    dtype = _gpu.dlpack_view(x, "x").dtype
    m, n, d = int(x.shape[-2]), int(y.shape[-2]), int(x.shape[-1])
    B = math.prod(batch_shape)
    f = _gpu.empty_like_kind(x, (B, m), np.dtype(np.float64))
    g = _gpu.empty_like_kind(x, (B, n), np.dtype(np.float64))
    if B == 0:
        return f, g, _empty_points_stats(), batch_shape, (x, y, a, b)
    stacked = {"x": _stack(x, 2, batch_shape), "y": _stack(y, 2, batch_shape),
               "a": _stack(a, 1, batch_shape), "b": _stack(b, 1, batch_shape)}
    if g0 is not None:
        stacked["init"] = _stack(g0, 1, batch_shape)
    sizes = {"x": m * d, "y": n * d, "a": m, "b": n, "init": n}
    strides = {name: _stride(v, sizes[name]) for name, v in stacked.items()}
    stream = _gpu.current_stream(x)
    arrays = [(v, name) for name, v in stacked.items()] + [(f, "f"), (g, "g")]
    views = _gpu.device_views(arrays, stream)
    ptr = {name: view.ptr for (_, name), view in zip(arrays, views)}
    stats = _points_kernel(dtype, B, m, n, d, ptr, strides, options, stream)
    return f, g, stats, batch_shape, (x, y, a, b)
