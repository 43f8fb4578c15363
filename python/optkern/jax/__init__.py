"""JAX transformations for optkern's kernels: :func:`sinkhorn`, :func:`sinkhorn_cost` and
:func:`tv_denoise` are ``jax.custom_vjp`` functions whose forward and backward call optkern's
CPU kernels through ``jax.pure_callback`` (the implicit block-Cholesky backward of Sinkhorn,
the segment-averaging backward of TV; nothing is unrolled). They work under ``jax.jit``,
``jax.grad`` and ``jax.vmap`` (a vmapped call becomes one batched kernel call).

The callbacks run on the host: arrays on an accelerator are copied to it and back by JAX.
Importing this module needs jax; ``import optkern`` alone never imports it.
"""

from __future__ import annotations

try:
    import jax as _jax  # noqa: F401  (the dependency this module adds)
except ImportError as exc:
    from optkern._autodiff import install_hint

    raise ImportError(install_hint("jax", "JAX", "jax")) from exc

from optkern.jax._losses import sinkhorn2, sinkhorn_divergence
from optkern.jax._ot import sinkhorn, sinkhorn_cost
from optkern.jax._tv import tv_denoise
from optkern.jax._unbalanced import sinkhorn_unbalanced

__all__ = ["sinkhorn", "sinkhorn_cost", "tv_denoise", "sinkhorn2", "sinkhorn_divergence",
           "sinkhorn_unbalanced"]
