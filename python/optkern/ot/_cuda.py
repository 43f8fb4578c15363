"""sinkhorn on a CUDA device: CuPy arrays and torch CUDA tensors in place, NumPy inputs staged.

The checks are the CPU path's (optkern.ot._checks), done with the array's own library for GPU
arrays (a few reductions, read back as Python numbers); the kernel checks the marginals again.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optkern import _backend, _gpu
from optkern._validation import broadcast_batch, describe, fail, is_gpu_array
from optkern.ot import _checks
from optkern.ot._result import make_result


class _Lib:
    """The few array operations the checks need, for torch and CuPy."""

    def __init__(self, x: Any, name: str):
        self.kind = _gpu.library_of(x)
        if self.kind == "torch":
            import torch

            self.mod = torch
        elif self.kind == "cupy":
            import cupy

            self.mod = cupy
        else:
            fail(name, "a CuPy array or a torch CUDA tensor on device='cuda'", describe(x))
        self.like = x

    def asarray(self, x: Any, dtype: np.dtype) -> Any:
        if self.kind == "torch":
            return self.mod.as_tensor(x, dtype=getattr(self.mod, dtype.name),
                                      device=self.like.device)
        with self.like.device:
            return self.mod.asarray(x, dtype=dtype)

    def contiguous(self, x: Any) -> Any:
        return x.contiguous() if self.kind == "torch" else self.mod.ascontiguousarray(x)

    def broadcast_to(self, x: Any, shape: tuple[int, ...]) -> Any:
        return x.expand(shape) if self.kind == "torch" else self.mod.broadcast_to(x, shape)

    def all_finite(self, x: Any) -> bool:
        return bool(self.mod.isfinite(x).all().item())

    def size(self, x: Any) -> int:
        return int(x.numel()) if self.kind == "torch" else int(x.size)

    def min(self, x: Any) -> float:
        return float(x.min().item()) if self.size(x) else 0.0

    def max_abs(self, x: Any) -> float:
        return float(abs(x).max().item()) if self.size(x) else 0.0

    def row_sums(self, x: Any) -> np.ndarray:
        s = x.double().sum(-1) if self.kind == "torch" else x.astype(np.float64).sum(-1)
        return s.cpu().numpy() if self.kind == "torch" else s.get()

    def soft_c_transform(self, f: Any, M: Any, a: Any, b: Any, reg: float) -> Any:
        """g = reg log b - reg LSE_i((f_i - M_ij) / reg) over a_i > 0, in float64."""
        if self.kind == "torch":
            x = (f.double()[..., :, None] - M.double()) / reg
            x = self.mod.where(a.double()[..., :, None] > 0, x, -math.inf)
            lse = self.mod.logsumexp(x, dim=-2)
            g = reg * (self.mod.log(b.double()) - lse)
            return self.mod.where(self.mod.isfinite(g), g, 0.0).to(M.dtype)
        cp = self.mod
        x = (f.astype(np.float64)[..., :, None] - M.astype(np.float64)) / reg
        x = cp.where(a[..., :, None] > 0, x, -cp.inf)
        top = x.max(axis=-2)
        lse = top + cp.log(cp.exp(x - top[..., None, :]).sum(axis=-2))
        g = reg * (cp.log(b.astype(np.float64)) - lse)
        return cp.where(cp.isfinite(g), g, 0.0).astype(M.dtype)


def sinkhorn(M: Any, a: Any, b: Any, reg: float, tol: float, max_iter: int, method: int,
             init: Any):
    if any(is_gpu_array(x) for x in (M, a, b)) or (
        isinstance(init, (tuple, list)) and any(is_gpu_array(x) for x in init)
    ):
        return _on_gpu_arrays(M, a, b, reg, tol, max_iter, method, init, make_result)
    p = _checks.prepare(M, a, b, reg, init)
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
        stats = _backend._cuda.sinkhorn(
            p.dtype.char, B, m, n,
            ptr["M"], _stride(p.M, m * n), ptr["a"], _stride(p.a, m),
            ptr["b"], _stride(p.b, n), ptr["init"],
            _stride(p.init_g, n) if p.init_g is not None else 0,
            reg, tol, max_iter, 10, method, out["plan"], out["f"], out["g"], staging.stream)
        for name, x in (("plan", plan), ("f", f), ("g", g)):
            staging.download(out[name], x)
    return make_result(p.batch_shape, m, n, plan, f, g, stats)


def _stride(x: Any, item: int) -> int:
    """Batch stride of a stacked (1 | B, ...) operand: 0 when it is shared."""
    return 0 if x.shape[0] == 1 else item


def _empty_stats() -> tuple:
    return (np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, bool),
            np.zeros(0, np.int64))


def _stack(lib: _Lib, x: Any, core: int, batch_shape: tuple[int, ...]) -> Any:
    """x (batch..., core...) as a contiguous (1 | B, core...) device array."""
    shape = tuple(x.shape)
    own, tail = shape[: len(shape) - core], shape[len(shape) - core:]
    if math.prod(own) != 1 and own != batch_shape:
        x = lib.broadcast_to(x, batch_shape + tail)
    lead = 1 if math.prod(own) == 1 else math.prod(batch_shape)
    return lib.contiguous(lib.contiguous(x).reshape((lead,) + tail))


def _on_gpu_arrays(M, a, b, reg, tol, max_iter, method, init, make_result):
    if not is_gpu_array(M):
        fail("M", "a GPU array like the other operands", describe(M))
    lib = _Lib(M, "M")
    M = _gpu.as_device_float(M, "M")
    dtype = _gpu.dlpack_view(M, "M").dtype
    shape = tuple(M.shape)
    if len(shape) < 2:
        fail("M", "an array with at least 2 dimensions", f"shape {shape}")
    m, n = shape[-2:]
    if m == 0 or n == 0:
        fail("M", "at least one row and one column", f"shape {shape}")
    if not lib.all_finite(M):
        fail("M", "finite values", "NaN or Inf")
    if lib.max_abs(M) / reg > _checks.MAX_COST_OVER_REG:
        fail("reg", f"a value with max|M| / reg below {_checks.MAX_COST_OVER_REG:g}", repr(reg))

    def weights(x, name, size, side):
        x = lib.asarray(x, dtype) if not is_gpu_array(x) else _gpu.as_device_float(x, name, dtype)
        if len(x.shape) < 1 or x.shape[-1] != size:
            fail(name, f"shape (..., {size}) to match the {size} {side} of M",
                 f"shape {tuple(x.shape)}")
        if not lib.all_finite(x):
            fail(name, "finite values", "NaN or Inf")
        if lib.min(x) < 0:
            fail(name, "weights >= 0", "a negative entry")
        if np.any(lib.row_sums(x) <= 0):
            fail(name, "weights with a positive sum", "all zeros")
        return x

    a = lib.asarray(np.full(m, 1.0 / m), dtype) if a is None else weights(a, "a", m, "rows")
    if b is None:
        sums = lib.row_sums(a)
        b = lib.asarray(np.ones(sums.shape + (n,)) * (sums[..., None] / n), dtype)
    else:
        b = weights(b, "b", n, "columns")
    sa, sb = np.broadcast_arrays(lib.row_sums(a), lib.row_sums(b))
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
            init_g = weights_free(lib, g0, "init", n, dtype)
        else:
            f0 = weights_free(lib, f0, "init", m, dtype)
            init_g = lib.soft_c_transform(f0, M, a, b, reg)
    shapes = [(shape[:-2], "M"), (tuple(a.shape[:-1]), "a"), (tuple(b.shape[:-1]), "b")]
    if init_g is not None:
        shapes.append((tuple(init_g.shape[:-1]), "init"))
    batch_shape = broadcast_batch(shapes)
    B = math.prod(batch_shape)
    Ms = _stack(lib, M, 2, batch_shape)
    As = _stack(lib, a, 1, batch_shape)
    Bs = _stack(lib, b, 1, batch_shape)
    Gs = _stack(lib, init_g, 1, batch_shape) if init_g is not None else None
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
    stats = _backend._cuda.sinkhorn(
        dtype.char, B, m, n,
        vM.ptr, _stride(Ms, m * n), vA.ptr, _stride(As, m), vB.ptr, _stride(Bs, n),
        views[6].ptr if Gs is not None else 0, _stride(Gs, n) if Gs is not None else 0,
        reg, tol, max_iter, 10, method, vP.ptr, vF.ptr, vG.ptr, stream)
    return make_result(batch_shape, m, n, plan, f, g, stats)


def weights_free(lib: _Lib, x: Any, name: str, size: int, dtype: np.dtype) -> Any:
    """Potentials for a warm start: finite, last dimension `size`, on the device."""
    x = lib.asarray(x, dtype) if not is_gpu_array(x) else _gpu.as_device_float(x, name, dtype)
    if len(x.shape) < 1 or x.shape[-1] != size:
        fail(name, f"potentials with a last dimension of {size}", f"shape {tuple(x.shape)}")
    if not lib.all_finite(x):
        fail(name, "finite values", "NaN or Inf")
    return x
