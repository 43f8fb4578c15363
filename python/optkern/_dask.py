"""Dask arrays in, dask arrays out: every batched optkern function on ``dask.array.Array``.

Each public batched function starts with ``if is_dask(...): return ...``: ``batched`` here
where the batch is plain (every array operand broadcasts over the loop dimensions), or the
area's own ``<area>/_dask.py`` where an operand needs a layout of its own (tv's lam, ot's
marginals and warm starts). This module is the machinery they share. A dask call builds a
graph and returns at once (results are dask arrays,
result objects hold dask arrays); nothing runs until ``.compute()``. Each block of the batch
is handed, as NumPy (or CuPy) arrays, to the same public function the NumPy user calls, so
the blocks run the same checks and kernels, with the thread count of the worker that runs
them.

How a call is laid out (``dask.array.apply_gufunc``):

* every array operand has core dimensions (the last 1 or 2 axes: a signal, a matrix) and
  loop (batch) dimensions, which broadcast as in NumPy;
* core dimensions are merged into one chunk (``PerformanceWarning`` when that moves more
  than dask's ``array.chunk-size``); batch dimensions keep the chunks of the first operand
  that has them, and every other operand (per-signal lam, marginals, x0 rows, warm starts)
  is rechunked to match;
* the outputs and their dtypes come from calling the public function once on empty
  batches (shape ``(0, *core)``), which also checks every option up front: a bad option
  fails when the graph is built, bad values (NaN, negative weights) when the block holding
  them runs, with the same ValueError.

dask is imported only here, and only when a dask array is passed (``import optkern`` does
not import dask).
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from optkern._validation import broadcast_batch, check_device, compute_dtype, describe, fail


def is_dask(*values: Any) -> bool:
    """True when a value (or an item of a tuple/list value) is a dask array. Costs a dict
    lookup when dask has not been imported."""
    module = sys.modules.get("dask.array")
    if module is None:
        return False
    array_type = module.Array
    for value in values:
        if isinstance(value, array_type):
            return True
        if isinstance(value, (tuple, list)) and any(isinstance(v, array_type) for v in value):
            return True
    return False


# ---------------------------------------------------------------------------------------
# Operands


@dataclass
class Operand:
    value: Any  # a dask array after _prepare
    name: str  # the argument's name (error messages) and the keyword the block passes
    core: int  # the number of core (trailing) dimensions

    @property
    def loop_shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape[: self.value.ndim - self.core])

    @property
    def core_shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape[self.value.ndim - self.core:])


def _is_gpu_meta(meta: Any) -> bool:
    return type(meta).__module__.split(".")[0] == "cupy"


def as_dask(x: Any, name: str, core: int) -> Any:
    """x as a dask array with NumPy or CuPy blocks of a real dtype and at least `core`
    dimensions, its core dimensions in one chunk."""
    import dask.array as da

    if not isinstance(x, da.Array):
        from optkern._validation import as_array

        x = da.from_array(as_array(x, name), chunks=-1)
    meta = x._meta
    if type(meta) is not np.ndarray and not _is_gpu_meta(meta):
        fail(name, "a dask array of NumPy or CuPy blocks",
             f"a dask array whose meta is {type(meta).__module__}.{type(meta).__name__}")
    compute_dtype(x.dtype, name)  # complex, object, string: named ValueError
    if x.ndim < core:
        fail(name, f"an array with at least {core} dimension{'s' * (core > 1)}",
             f"shape {x.shape}")
    if any(np.isnan(s) for s in x.shape):
        fail(name, "a dask array of known shape (call compute_chunk_sizes() first)",
             f"shape {x.shape}")
    return merge_core_chunks(x, name, core)


def merge_core_chunks(x: Any, name: str, core: int) -> Any:
    """Rechunk the core dimensions into one chunk; warn when that moves a lot of data."""
    import dask
    from dask.array.core import PerformanceWarning
    from dask.utils import format_bytes, parse_bytes

    axes = range(x.ndim - core, x.ndim)
    split = [a for a in axes if len(x.chunks[a]) > 1]
    if not split:
        return x
    limit = parse_bytes(dask.config.get("array.chunk-size"))
    if x.nbytes > limit:
        warnings.warn(
            f"{name}: its core axes (the last {core}) must be in one chunk and axis "
            f"{split[0]} has {len(x.chunks[split[0]])}; rechunking moves {format_bytes(x.nbytes)}"
            f" between workers. Chunk only the batch axes (e.g. "
            f"x.rechunk({{{', '.join(f'{a}: -1' for a in axes)}}}) once, or chunks=(..., -1) "
            f"where the array is made).", PerformanceWarning, stacklevel=5)
    block = x.dtype.itemsize * int(np.prod([max(c) if c else 0 for c in x.chunks[: x.ndim - core]]
                                           + [x.shape[a] for a in axes]))
    batch_chunks: Any = "auto" if block > limit and x.ndim > core else None
    target = {a: -1 for a in axes}
    if batch_chunks is not None:
        target.update({a: batch_chunks for a in range(x.ndim - core)})
    return x.rechunk(target)


def _align_loop_chunks(operands: list[Operand]) -> None:
    """Rechunk every operand's batch dimensions to the chunks of the first operand that has
    each dimension with an extent above 1 (operands broadcast along extents of 1)."""
    loop = max(len(op.loop_shape) for op in operands)
    for p in range(loop):
        reference = None
        for op in operands:
            d = p - (loop - len(op.loop_shape))
            if d >= 0 and op.value.shape[d] > 1:
                if reference is None:
                    reference = op.value.chunks[d]
                elif op.value.chunks[d] != reference:
                    op.value = op.value.rechunk({d: reference})


def _sample(op: Operand) -> np.ndarray:
    """An empty batch with the operand's core shape and dtype: what the public function is
    called with once, to check the options and learn the outputs."""
    return np.empty((0,) + op.core_shape, op.value.dtype)


# ---------------------------------------------------------------------------------------
# Outputs: the public function's result on an empty batch is the template; every NumPy
# array in it whose first axis is that empty batch becomes one output of the gufunc.


def _is_leaf_value(x: Any) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype") and not np.isscalar(x)


def _block_leaves(value: Any, count: int) -> list[Any]:
    """The leaves of a block's result, in template order (Python scalars, as a single
    problem gives them, become 0-d arrays)."""
    if _is_leaf_value(value) or isinstance(value, (int, float, bool, str, np.generic)):
        return [value]
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in _block_leaves(v, count)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [leaf for f in dataclasses.fields(value)
                for leaf in _block_leaves(getattr(value, f.name), count)]
    return []


@dataclass(frozen=True)
class _Spec:
    """What a block needs: the public function, the operand names and declared dtypes, the
    outputs' core ndims, dtypes and kinds, and the keyword options."""

    function: Callable[..., Any]
    names: tuple[str, ...]
    cores: tuple[int, ...]
    dtypes: tuple[np.dtype, ...]
    out_cores: tuple[int, ...]
    out_dtypes: tuple[np.dtype, ...]
    out_gpu: tuple[bool, ...]
    template_mask: tuple[bool, ...]  # which leaves of the result are outputs
    options: dict
    prepare: Callable[..., Any] | None = None
    finish: Callable[..., Any] | None = None


def _run_block(*blocks: Any, spec: _Spec) -> Any:
    """One task: check the blocks against their declared dtypes, call the public function,
    return its per-problem arrays with the loop shape of the block."""
    arrays = {}
    loops = []
    for name, declared, core, block in zip(spec.names, spec.dtypes, spec.cores, blocks):
        dtype = getattr(block, "dtype", None)
        if dtype != declared:
            fail(name, f"blocks of dtype {declared}, as the dask array declares (its meta)",
                 f"a block of {describe(block)}; pass the right dtype= or meta= where the "
                 f"dask array is made")
        arrays[name] = block
        loops.append(tuple(block.shape[: block.ndim - core]))
    loop = tuple(np.broadcast_shapes(*loops)) if loops else ()
    if spec.prepare is not None:
        arrays = spec.prepare(arrays, loop, spec.options)
    result = spec.function(**arrays, **spec.options)
    if spec.finish is not None:
        result = spec.finish(result)
    leaves = [leaf for leaf, keep in zip(_block_leaves(result, len(spec.template_mask)),
                                         spec.template_mask) if keep]
    outs = []
    for leaf, core, dtype, gpu in zip(leaves, spec.out_cores, spec.out_dtypes, spec.out_gpu):
        outs.append(_shape_output(leaf, loop, core, dtype, gpu))
    return tuple(outs) if len(outs) > 1 else outs[0]


def _shape_output(leaf: Any, loop: tuple[int, ...], core: int, dtype: np.dtype,
                  gpu: bool) -> Any:
    if gpu:
        import cupy

        leaf = cupy.asarray(leaf)
        xp = cupy
    else:
        if not isinstance(leaf, np.ndarray):
            leaf = leaf.get() if hasattr(leaf, "get") else np.asarray(leaf)
        xp = np
    if leaf.dtype != dtype:
        leaf = leaf.astype(dtype)
    shape = loop + tuple(leaf.shape[leaf.ndim - core:]) if core else loop
    if tuple(leaf.shape) != shape:
        leaf = xp.ascontiguousarray(xp.broadcast_to(leaf, shape))
    return leaf


def apply(function: Callable[..., Any], operands: list[Operand], options: dict, *,
           prepare: Callable[..., Any] | None = None,
           finish: Callable[..., Any] | None = None) -> Any:
    """Build the graph: function(**blocks, **options) per block of the broadcast batch.
    Returns the function's result structure with dask arrays for its per-problem arrays."""
    import dask.array as da
    from dask.array.utils import meta_from_array

    gpu = any(_is_gpu_meta(op.value._meta) for op in operands)
    if gpu and options.get("device", "cpu") == "cpu":
        name = next(op.name for op in operands if _is_gpu_meta(op.value._meta))
        fail(name, "a host array for device='cpu' (use device='cuda' or 'auto')",
             "a dask array of CuPy blocks")
    _align_loop_chunks(operands)

    # The template: the function on empty batches (checks every option; CPU, no data).
    samples = {op.name: _sample(op) for op in operands}
    sample_opts = dict(options)
    if "device" in sample_opts:
        sample_opts["device"] = "cpu"
    if prepare is not None:
        samples = prepare(samples, (0,), sample_opts)
    template = function(**samples, **sample_opts)
    if finish is not None:
        template = finish(template)
    mask: list[bool] = []
    out_cores, out_dtypes, out_gpu = [], [], []
    all_leaves = _block_leaves(template, 0)
    for leaf in all_leaves:
        keep = isinstance(leaf, np.ndarray) and leaf.ndim >= 1 and leaf.shape[0] == 0
        mask.append(keep)
        if keep:
            out_cores.append(leaf.ndim - 1)
            out_dtypes.append(leaf.dtype)
            out_gpu.append(gpu and leaf.dtype.kind in "biuf")
    spec = _Spec(function=function, names=tuple(op.name for op in operands),
                 cores=tuple(op.core for op in operands),
                 dtypes=tuple(op.value.dtype for op in operands),
                 out_cores=tuple(out_cores), out_dtypes=tuple(out_dtypes),
                 out_gpu=tuple(out_gpu), template_mask=tuple(mask), options=options,
                 prepare=prepare, finish=finish)

    # The gufunc signature: core dims named per operand; output core dims are new names
    # with their sizes given (they come from the template).
    ins = []
    for k, op in enumerate(operands):
        ins.append("(" + ",".join(f"i{k}_{d}" for d in range(op.core)) + ")")
    outs, sizes = [], {}
    kept = [leaf for leaf, keep in zip(all_leaves, mask) if keep]
    for k, leaf in enumerate(kept):
        dims = [f"o{k}_{d}" for d in range(leaf.ndim - 1)]
        sizes.update({dim: size for dim, size in zip(dims, leaf.shape[1:])})
        outs.append("(" + ",".join(dims) + ")")
    signature = ",".join(ins) + "->" + (",".join(outs) if len(outs) > 1 else outs[0])
    like = next(op.value._meta for op in operands)
    metas = tuple(meta_from_array(like if g else np.empty(0), ndim=c + 1, dtype=dt)
                  for c, dt, g in zip(out_cores, out_dtypes, out_gpu))
    results = da.apply_gufunc(_run_block, signature, *(op.value for op in operands),
                              output_sizes=sizes, meta=metas if len(metas) > 1 else metas[0],
                              spec=spec)
    results = list(results) if len(kept) > 1 else [results]
    # leaves that are not per-problem arrays stay as in the template
    leaves = [results.pop(0) if keep else leaf for leaf, keep in zip(all_leaves, mask)]
    return _rebuild_leaves(template, leaves)


def _rebuild_leaves(template: Any, leaves: list[Any]) -> Any:
    """Like _rebuild, over the leaves as _block_leaves lists them."""
    if _is_leaf_value(template) or isinstance(template, (int, float, bool, str, np.generic)):
        return leaves.pop(0)
    if isinstance(template, (tuple, list)):
        return type(template)(_rebuild_leaves(v, leaves) for v in template)
    if dataclasses.is_dataclass(template) and not isinstance(template, type):
        return type(template)(**{f.name: _rebuild_leaves(getattr(template, f.name), leaves)
                                 for f in dataclasses.fields(template)})
    return template


def reject(**values: Any) -> None:
    """Options that have no meaning for a dask call (an ``out`` buffer, a CUDA stream of this
    process, a callback or a progress bar of this process)."""
    for name, (value, default) in values.items():
        if value is not default and not (isinstance(value, (bool, np.bool_))
                                         and value == default):
            what = {"out": "None for dask input (the result is a new dask array)",
                    "stream": "None for dask input (each worker uses its current stream)",
                    "callback": "None for dask input (blocks run on the workers)",
                    "progress": "False for dask input (watch the dask dashboard instead)"}
            fail(name, what[name], describe(value))


def check_batch(operands: list[Operand]) -> tuple[int, ...]:
    return broadcast_batch([(op.loop_shape, op.name) for op in operands])


def sum_to_shape(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum per-problem values over the axes along which a parameter of `shape` was
    broadcast (as automatic differentiation would)."""
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + d for d, size in enumerate(shape) if size == 1 and g.shape[lead + d] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True, dtype=g.dtype)
    return g.reshape(shape)


# ---------------------------------------------------------------------------------------
# The functions


def batched(function: Callable[..., Any], cores: dict[str, int], /, **arguments: Any) -> Any:
    """The generic adapter: ``function(**arguments)`` over the blocks of the batch.

    ``cores`` names the array arguments and their core dimensions (e.g. ``{"M": 2, "a": 1}``);
    their leading dimensions are the batch, which broadcasts. Every other argument (and an
    array argument that is None) is passed to every block as it is. A new batched function
    needs one line: ``if _dask.is_dask(x): return _dask.batched(f, {"x": 1}, **locals())``.
    """
    reject(stream=(arguments.pop("stream", None), None))
    check_device_option(arguments)
    ops = [Operand(as_dask(arguments.pop(name), name, core), name, core)
           for name, core in cores.items() if arguments.get(name) is not None]
    check_batch(ops)
    return apply(function, ops, arguments)


def check_device_option(options: dict) -> None:
    if "device" in options:
        check_device(options["device"])


def _messages(result: Any) -> Any:
    """A BatchResult whose messages are an object array (one per problem), not a tuple."""
    message = np.empty(len(result.message), dtype=object)
    message[:] = list(result.message)
    return dataclasses.replace(result, message=message)


def minimize_batch(function: Callable[..., Any], fun: Any, x0: Any, *, callback: Any = None,
                   progress: bool = False, stream: Any = None, **options: Any) -> Any:
    """optkern.optimize.minimize_batch (`function`) of a native Problem over dask rows of x0."""
    reject(stream=(stream, None), callback=(callback, None), progress=(progress, False))
    check_device_option(options)
    xo = Operand(as_dask(x0, "x0", 1), "x0", 1)
    if xo.value.ndim != 2:
        fail("x0", "a 2-dimensional array", f"shape {xo.value.shape}")
    return apply(function, [xo], {"fun": fun, **options}, finish=_messages)


def minimize_refuses(x0: Any) -> None:
    """optimize.minimize with a dask x0: one problem with a Python objective is no batch."""
    fail("x0", "a NumPy array: minimize solves one problem with a Python objective; for a "
         "dask array of starting points use optkern.optimize.minimize_batch with a native "
         "Problem (one row of x0 per problem)", describe(x0))
