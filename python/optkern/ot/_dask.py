"""optkern.ot on dask arrays: marginals, warm starts and per-problem reg as batch operands, and
the marginals' gradients summed back to their shapes; the generic machinery is optkern._dask's."""

from __future__ import annotations

import functools
import sys
from typing import Any, Callable

import numpy as np

from optkern._dask import (
    Operand,
    apply,
    as_dask,
    check_batch,
    check_device_option,
    is_dask,
    merge_core_chunks,
    reject,
    sum_to_shape,
)
from optkern._validation import describe, fail


def _assemble_init(arrays: dict, loop: tuple[int, ...], options: dict) -> dict:
    out = {k: v for k, v in arrays.items() if k not in ("init_f", "init_g")}
    if options.get("init_given"):
        out["init"] = (arrays.get("init_f"), arrays.get("init_g"))
    return out


def _without_layout(function: Callable[..., Any], **kwargs: Any) -> Any:
    kwargs.pop("init_given", None)
    return function(**kwargs)


def sinkhorn(function: Callable[..., Any], M: Any, a: Any = None, b: Any = None, *, reg: Any,
             init: Any = None, callback: Any = None, progress: bool = False, stream: Any = None,
             **options: Any) -> Any:
    """optkern.ot.sinkhorn (`function`) over a dask batch of problems."""
    reject(stream=(stream, None), callback=(callback, None), progress=(progress, False))
    check_device_option(options)
    ops = [Operand(as_dask(M, "M", 2), "M", 2)]
    for x, name in ((a, "a"), (b, "b")):
        if x is not None:
            ops.append(Operand(as_dask(x, name, 1), name, 1))
    if init is not None:
        if not isinstance(init, (tuple, list)) or len(init) != 2:
            fail("init", "a pair (f, g) of potentials (either may be None)", describe(init))
        if init[0] is None and init[1] is None:
            fail("init", "a pair (f, g) with at least one of them given", "(None, None)")
        for x, name in zip(init, ("init_f", "init_g")):
            if x is not None:
                ops.append(Operand(as_dask(x, "init", 1), name, 1))
    options = {**options, "init_given": init is not None}
    if np.ndim(reg) == 0 and not is_dask(reg):
        options["reg"] = reg
    else:  # one reg per problem, where the function takes it
        ops.append(Operand(as_dask(reg, "reg", 0), "reg", 0))
    check_batch(ops)
    return apply(functools.partial(_without_layout, function), ops, options, prepare=_assemble_init)


def _per_problem_weights(arrays: dict, loop: tuple[int, ...], options: dict) -> dict:
    """a and b broadcast to the block's batch, so that grad_a and grad_b come back per
    problem (summed over the broadcast axes afterwards); grad_P broadcast to P's shape."""
    out = dict(arrays)
    P = arrays["P"]
    xp = np if isinstance(P, np.ndarray) else sys.modules["cupy"]
    batch = tuple(P.shape[:-2])
    for name, size in (("a", P.shape[-2]), ("b", P.shape[-1])):
        if name in arrays:
            out[name] = xp.ascontiguousarray(xp.broadcast_to(arrays[name], batch + (size,)))
    out["grad_P"] = xp.broadcast_to(arrays["grad_P"], P.shape)
    return out


def sinkhorn_vjp(function: Callable[..., Any], P: Any, grad_P: Any, reg: Any, a: Any = None,
                 b: Any = None, **options: Any) -> Any:
    """optkern.ot.sinkhorn_vjp (`function`) over a dask batch of plans."""
    import dask.array as da

    po = Operand(as_dask(P, "P", 2), "P", 2)
    g = as_dask(grad_P, "grad_P", 0)
    shape = tuple(po.value.shape)
    try:
        fits = np.broadcast_shapes(g.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        fail("grad_P", f"an array that broadcasts to P's shape {shape}", f"shape {g.shape}")
    if g.ndim < 2 or g.shape[-2:] != shape[-2:]:  # core axes broadcast: give them P's
        g = da.broadcast_to(g, (g.shape[:-2] if g.ndim >= 2 else ()) + shape[-2:])
    ops = [po, Operand(merge_core_chunks(g, "grad_P", 2), "grad_P", 2)]
    weights = {}
    for x, name in ((a, "a"), (b, "b")):
        if x is not None:
            op = Operand(as_dask(x, name, 1), name, 1)
            weights[name] = tuple(op.value.shape)
            ops.append(op)
    if check_batch(ops) != po.loop_shape:
        fail("a, b", f"batch shapes that broadcast to P's batch shape {po.loop_shape}",
             ", ".join(f"{op.name} {op.loop_shape}" for op in ops[2:]))
    if np.ndim(reg) == 0 and not is_dask(reg):
        options = {**options, "reg": reg}
    else:
        ops.append(Operand(as_dask(reg, "reg", 0), "reg", 0))
    grad_M, grad_a, grad_b = apply(function, ops, options,
                                    prepare=_per_problem_weights)
    if "a" in weights:
        grad_a = sum_to_shape(grad_a, weights["a"])
    if "b" in weights:
        grad_b = sum_to_shape(grad_b, weights["b"])
    return grad_M, grad_a, grad_b


