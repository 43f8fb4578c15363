"""PyTorch autograd for optkern's kernels: :func:`sinkhorn`, :func:`sinkhorn_cost` and
:func:`tv_denoise` are ``torch.autograd.Function``\\ s whose forward and backward are optkern's
own (the implicit block-Cholesky backward of Sinkhorn, the segment-averaging backward of TV;
nothing is unrolled).

CPU tensors reach the kernels as NumPy views of their memory and results come back as tensors
over the kernels' output buffers: no copies. CUDA tensors go to the CUDA kernels in place
through DLPack on the current stream; the Sinkhorn backward of CUDA tensors runs on the
device in torch operations (optkern has no CUDA kernel for it yet), so nothing goes through
the host either.

Importing this module needs torch; ``import optkern`` alone never imports it.
"""

from __future__ import annotations

try:
    import torch as _torch  # noqa: F401  (the dependency this module adds)
except ImportError as exc:
    from optkern._autodiff import install_hint

    raise ImportError(install_hint(
        "torch", "PyTorch", "torch",
        " (for PyTorch's CPU-only build, first: pip install torch --index-url "
        "https://download.pytorch.org/whl/cpu)")) from exc

from optkern.torch._losses import sinkhorn2, sinkhorn_divergence
from optkern.torch._ot import sinkhorn, sinkhorn_cost
from optkern.torch._points import sinkhorn_points_value
from optkern.torch._tv import tv_denoise, tv_denoise_2d
from optkern.torch._unbalanced import sinkhorn_unbalanced

__all__ = ["sinkhorn", "sinkhorn_cost", "tv_denoise", "tv_denoise_2d", "sinkhorn2",
           "sinkhorn_divergence", "sinkhorn_unbalanced", "sinkhorn_points_value"]
