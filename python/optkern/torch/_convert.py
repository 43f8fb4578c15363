"""Tensors in and out of optkern's kernels without copies."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from optkern._validation import describe, fail, reject_masked


def as_tensor(x: Any, name: str, like: torch.Tensor | None = None) -> torch.Tensor:
    """x as a tensor: tensors as they are; NumPy arrays and other array_likes by
    ``torch.as_tensor`` (a NumPy array is shared, not copied), on ``like``'s device."""
    if isinstance(x, torch.Tensor):
        t = x
    else:
        reject_masked(x, name)
        try:
            t = torch.as_tensor(x, device=None if like is None else like.device)
        except (TypeError, ValueError, RuntimeError) as exc:
            fail(name, "a tensor or an array_like of numbers", f"{describe(x)} ({exc})")
    if t.device.type not in ("cpu", "cuda"):
        fail(name, "a CPU or CUDA tensor", f"a tensor on {t.device}")
    if t.layout != torch.strided:
        fail(name, "a dense (strided) tensor; call .to_dense() on a sparse one",
             f"a tensor with layout {t.layout}")
    if t.dtype == torch.bfloat16:  # computed in float32 (NumPy has no bfloat16), see low_precision
        t = t.float()
    if like is not None and t.device != like.device:
        fail(name, f"a tensor on {like.device} like the other inputs", f"one on {t.device}")
    return t


def cost_matrix(M: Any, floating: bool = True) -> torch.Tensor:
    """M as a tensor with at least 2 dimensions (ValueError naming M), integer M made float64
    unless ``floating=False``."""
    M = as_tensor(M, "M")
    if M.ndim < 2:
        fail("M", "an array with at least 2 dimensions", f"shape {tuple(M.shape)}")
    if floating and not M.is_floating_point():
        M = M.to(torch.float64)
    return M


def host(t: torch.Tensor) -> np.ndarray:
    """A tensor's values as a NumPy array on the host (detached; copied from a GPU)."""
    return t.detach().cpu().numpy()


def low_precision(x: Any) -> bool:
    """Whether x is a bfloat16 tensor: the adapters compute it in float32 (as_tensor widens
    it, differentiably) and return their result in bfloat16."""
    return isinstance(x, torch.Tensor) and x.dtype == torch.bfloat16


def to_kernel(t: torch.Tensor) -> Any:
    """What optkern's functions take: a NumPy view of a CPU tensor's memory (no copy), or the
    CUDA tensor itself (read in place through DLPack)."""
    t = t.detach()
    return t if t.is_cuda else t.numpy()


def from_kernel(x: Any, like: torch.Tensor) -> torch.Tensor:
    """A kernel's result as a tensor on ``like``'s device: NumPy buffers are wrapped (no
    copy), CUDA tensors are returned as they are, scalars become 0-d tensors."""
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ndarray) and x.flags.writeable:
        t = torch.from_numpy(x)
    else:
        t = torch.as_tensor(np.asarray(x))
    return t if t.device == like.device else t.to(like.device)


def sum_to(grad: torch.Tensor, shape: torch.Size, dtype: torch.dtype) -> torch.Tensor:
    """A gradient summed over the dimensions along which an input of this shape was
    broadcast, in the input's dtype."""
    if grad.shape != shape:
        grad = grad.sum_to_size(shape)
    return grad.to(dtype)
