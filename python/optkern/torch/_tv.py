"""optkern.torch.tv_denoise: 1-D total variation denoising with its exact backward, as a
torch.autograd.Function."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from optkern import _docs
from optkern import tv as _tv
from optkern._keywords import DENOISE, DENOISE_2D, Denoise2DOptions, DenoiseOptions
from optkern.torch._convert import as_tensor, from_kernel, low_precision, sum_to, to_kernel

if TYPE_CHECKING:  # typing.Unpack is Python 3.11+; annotations are not evaluated
    from typing_extensions import Unpack

__all__ = ["tv_denoise", "tv_denoise_2d"]


@_docs.fill
@DENOISE.after("lam")
def tv_denoise(x: Any, lam: Any, *, rtol: float | None = None,
               **options: Unpack[DenoiseOptions]) -> torch.Tensor:
    """The prox of λ·TV along the last axis (:func:`optkern.tv.denoise`), differentiable in x
    and λ.

    The backward is :func:`optkern.tv.denoise_vjp`: the mean of the incoming gradient over
    each constant segment of y for x, and ``-(v_b - v_{a-1}) / |S|`` per segment for λ. O(n)
    per signal; nothing is unrolled.

    Parameters
    ----------
    x : Tensor or array_like, shape (..., n)
        Signals, on the CPU or a CUDA device; float32 stays float32, bfloat16 is computed in
        float32 and returned in bfloat16; sparse tensors are refused (ValueError).
    lam : float or Tensor
        λ >= 0: a number (not differentiated), or a tensor (0-d, one value per signal,
        broadcasting to ``x.shape[:-1]``, or one weight per edge of shape ``(..., n - 1)`` as
        in :func:`optkern.tv.denoise`) that receives a gradient of its own shape.
    {tv_options}
        The backward is exact for ``"exact"``.
    {tv_rtol}

    Returns
    -------
    Tensor, shape (..., n)
        The denoised signals, with x's dtype, on x's device.

    Raises
    ------
    ValueError
        As :func:`optkern.tv.denoise` (the message starts with the argument's name), or for
        tensors on a device other than the CPU or CUDA.

    Examples
    --------
    >>> import torch, optkern.torch
    >>> x = torch.tensor([0.0, 0.1, 3.0, 3.1, 2.9], dtype=torch.float64, requires_grad=True)
    >>> lam = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    >>> y = optkern.torch.tv_denoise(x, lam)
    >>> y.detach()
    tensor([0.3000, 0.3000, 2.8333, 2.8333, 2.8333], dtype=torch.float64)
    >>> (y[0] + 3 * y[4]).backward()
    >>> x.grad                                     # the segment means of dL/dy
    tensor([0.5000, 0.5000, 1.0000, 1.0000, 1.0000], dtype=torch.float64)
    >>> float(lam.grad)                            # dy_0/dlam = 1/2, dy_4/dlam = -1/3
    -0.5
    """
    low = low_precision(x)
    x = as_tensor(x, "x")
    if isinstance(lam, torch.Tensor):
        lam = as_tensor(lam, "lam")  # a CPU λ may go with CUDA signals (it is tiny)
    if rtol is None and options["method"] == "irls":
        rtol = 1e-6
    y = _Denoise.apply(x, lam, {**options, "rtol": rtol})
    return y.to(torch.bfloat16) if low else y  # bfloat16: computed in float32


def _remember(ctx: Any, x: torch.Tensor, lam: Any, lam_arg: Any, y: torch.Tensor,
              options: dict[str, Any]) -> None:
    """What the backward of both TV functions needs: y, λ as the kernel took it (and as a
    tensor: its shape, dtype and device, or None for a number), x's dtype and the options."""
    ctx.save_for_backward(y)
    ctx.lam, ctx.options = lam_arg, options
    ctx.lam_tensor = (lam.shape, lam.dtype, lam.device) if isinstance(lam, torch.Tensor) \
        else None
    ctx.x_dtype = x.dtype


def _input_grads(ctx: Any, y: torch.Tensor, grad_x: Any, grad_lam: Any) -> tuple:
    """(dL/dx, dL/dλ, None) from the kernel's vjp, for the inputs that need one."""
    grad_x = from_kernel(grad_x, y).to(ctx.x_dtype) if ctx.needs_input_grad[0] else None
    if ctx.lam_tensor is None or not ctx.needs_input_grad[1]:
        return grad_x, None, None
    shape, dtype, device = ctx.lam_tensor
    return grad_x, sum_to(from_kernel(grad_lam, y), shape, dtype).to(device), None


class _Denoise(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, lam: Any, options: dict[str, Any]) -> torch.Tensor:
        lam_arg = to_kernel(lam) if isinstance(lam, torch.Tensor) else lam
        y = from_kernel(_tv.denoise(to_kernel(x), lam_arg, method=options["method"],
                                    tol=options["tol"], max_iter=options["max_iter"],
                                    device="auto"), x)
        _remember(ctx, x, lam, lam_arg, y, options)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: torch.Tensor) -> tuple:
        (y,) = ctx.saved_tensors
        grad_x, grad_lam = _tv.denoise_vjp(to_kernel(y), to_kernel(grad_y.to(y.dtype)), ctx.lam,
                                           rtol=ctx.options["rtol"], device="auto")
        return _input_grads(ctx, y, grad_x, grad_lam)


@_docs.fill
@DENOISE_2D.after("lam")
def tv_denoise_2d(img: Any, lam: Any, *, rtol: float | None = None,
                  **options: Unpack[Denoise2DOptions]) -> torch.Tensor:
    """2-D TV denoising over the last two axes (:func:`optkern.tv.denoise_2d`), differentiable
    in img and λ for the anisotropic TV.

    The anisotropic backward is :func:`optkern.tv.denoise_2d_vjp`: the solution is constant
    on connected regions of fused neighbours, its Jacobian averages over each region (the
    generalized lasso's local structure), so the gradient for img is the region mean of the
    incoming gradient. Solve to a small ``tol`` (e.g. 1e-10) so that the regions are flat.
    The isotropic TV has no such structure; its backward raises RuntimeError (the forward
    works).

    Parameters
    ----------
    img : Tensor or array_like, shape (..., h, w)
        Images on the CPU; float32 stays float32.
    lam : float or Tensor
        λ >= 0: a number (not differentiated) or a tensor (0-d or one value per image) that
        receives a gradient of its own shape.
    {tv2d_options}
    {tv2d_rtol}

    Returns
    -------
    Tensor, shape (..., h, w)

    Raises
    ------
    ValueError
        As :func:`optkern.tv.denoise_2d`, or for a tensor not on the CPU.
    RuntimeError
        On backward through the isotropic TV.

    Examples
    --------
    >>> import torch, optkern.torch
    >>> img = torch.zeros(4, 4, dtype=torch.float64)
    >>> img[1:3, 1:3] = 1.0
    >>> img.requires_grad_()
    tensor(...)
    >>> y = optkern.torch.tv_denoise_2d(img, 0.1, tol=1e-12)
    >>> (y * img.detach()).sum().backward()
    >>> round(float(img.grad[1, 1]), 4)          # the mean of dL/dy over the square
    1.0
    """
    x = as_tensor(img, "img")
    if x.device.type != "cpu":
        from optkern._validation import fail

        fail("img", "a CPU tensor (denoise_2d runs on the CPU)", f"device {x.device}")
    if isinstance(lam, torch.Tensor):
        lam = as_tensor(lam, "lam")
    settings = {**options, "isotropic": bool(options["isotropic"]), "rtol": rtol}
    return _Denoise2d.apply(x, lam, settings)


class _Denoise2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, lam: Any, options: dict[str, Any]) -> torch.Tensor:
        lam_arg = to_kernel(lam) if isinstance(lam, torch.Tensor) else lam
        y = from_kernel(_tv.denoise_2d(to_kernel(x), lam_arg, isotropic=options["isotropic"],
                                       tol=options["tol"], max_iter=options["max_iter"]), x)
        _remember(ctx, x, lam, lam_arg, y, options)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: torch.Tensor) -> tuple:
        if ctx.options["isotropic"]:
            raise RuntimeError(
                "optkern.torch.tv_denoise_2d: no backward for the isotropic TV (its solution "
                "is not piecewise constant, so the region-averaging Jacobian of the "
                "anisotropic case does not apply); use isotropic=False to differentiate")
        (y,) = ctx.saved_tensors
        grad_x, grad_lam = _tv.denoise_2d_vjp(to_kernel(y), to_kernel(grad_y.to(y.dtype)),
                                              ctx.lam, rtol=ctx.options["rtol"])
        return _input_grads(ctx, y, grad_x, np.asarray(grad_lam))
