"""1-D total variation denoising: :func:`denoise` (the prox of λ·TV) and its exact backward
:func:`denoise_vjp`, batched over signals, on CPU and GPU.

For every signal x of length n (the last axis), :func:`denoise` solves

    y = argmin_u  ½‖u − x‖² + λ Σ_k |u_k − u_{k+1}|

either exactly (``method="exact"``: Condat's direct algorithm, handing over to the taut
string method where it would rescan too much, on the CPU and on a GPU; O(n) in practice)
or by the lecture notes' majorise–minimise iteration
(``method="irls"``) with an O(n) tridiagonal solve per step.

The solution is piecewise constant. Its Jacobian averages over each constant segment
(it is NOT the identity the lecture notes claim), so :func:`denoise_vjp` returns the segment
means of the incoming gradient, and the gradient with respect to λ from
y_S = mean(x_S) − λ (v_b − v_{a−1}) / |S| (v: the signs of the jumps at the segment's ends).
The derivations are in ``tests/reference/tv.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from optkern import _arrays, _backend, _docs, _gpu
from optkern._dask import batched, is_dask
from optkern._validation import check_bool, check_number, fail, resolve_device
from optkern.tv import _cpu, _cuda, _dask
from optkern.tv._checks import METHODS
from optkern.tv._result import Denoise2DResult, DenoiseResult

__all__ = ["Denoise2DResult", "DenoiseResult", "denoise", "denoise_2d", "denoise_2d_vjp",
           "denoise_vjp", "lambda_max"]


@_docs.fill
def denoise(
    x: Any,
    lam: Any,
    *,
    method: str = "exact",
    tol: float = 1e-6,
    max_iter: int = 1000,
    device: str = "cpu",
    return_info: bool = False,
    stream: Any = None,
) -> Any:
    """Total variation denoising of 1-D signals: the prox of λ·TV along the last axis.

    Computes, for every signal x of length n,
    ``y = argmin_u ½‖u − x‖² + λ Σ_k |u_k − u_{k+1}|``.

    Parameters
    ----------
    x : array_like, shape (..., n)
        The signals, one per index of the leading (batch) dimensions. float32 stays float32;
        integers become float64. NaN and Inf are rejected.
    lam : float or array_like
        λ >= 0: one value for every signal, or one per signal with a shape that broadcasts to
        x's batch shape ``x.shape[:-1]`` (``x.shape[:-1] + (1,)`` is accepted too). λ = 0
        returns x; λ >= :func:`lambda_max` returns each signal's mean.
        Or one weight per edge, shape ``(..., n − 1)`` whose leading axes broadcast to the
        batch shape: then ``y = argmin_u ½‖u − x‖² + Σ_k λ_k |u_k − u_{k+1}|`` (prox_tv's
        ``tv1w_1d``; a weight of 0 leaves that edge free). A shape that fits both readings,
        e.g. (4,) for x of shape (4, 5), is rejected: write ``lam[..., None]`` (one per
        signal) or ``lam[None]`` (weights shared by all signals). On CUDA, weights take
        the exact method (Condat's direct algorithm, else the taut string, one GPU thread
        per signal).
    {tv_options}
    {device}
        GPU arrays are not scanned for NaN or Inf (that would synchronise the device): NaN
        propagates into its signal's result.
    return_info : bool
        Return a :class:`DenoiseResult` (with iteration counts and final changes) instead of
        the array. For empty input its per-signal fields are read-only broadcast views, so
        that a batch of 2**40 empty signals needs no memory.
    {stream}

    Returns
    -------
    array, shape (..., n), or DenoiseResult
        The denoised signals, with x's dtype.

    Raises
    ------
    ValueError
        If x has no dimension, contains NaN or Inf, lam is negative, not finite or has a shape
        that does not fit x's batch shape, method is unknown, tol <= 0, max_iter < 1, or
        ``device="cuda"`` is asked for where CUDA is not available.

    Notes
    -----
    The exact CPU solver runs Condat's direct algorithm (2013), fast where segments are short
    (small λ), and hands a signal over to the taut string method (Davies & Kovac 2001; Barbero
    & Sra 2018; O(n) in the worst case) once Condat's rescans pass a budget or λ is large
    against the signal's steps; both compute in double precision for float32 input too. Its sums run
    along the pieces of the string, never over the whole signal, so a large offset or a long
    signal costs no accuracy; pieces equal up to rounding are merged, so every segment of y
    is one exact value. Signals are spread over ``optkern.get_num_threads()`` threads; one
    signal runs on one thread. On a GPU, IRLS runs its whole loop on the device: one thread
    per signal, or for a few long signals one block each, solving every step's tridiagonal
    system by the partition method.

    Examples
    --------
    >>> import numpy as np, optkern
    >>> x = np.array([0.0, 0.1, 3.0, 3.1, 2.9])
    >>> optkern.tv.denoise(x, 0.5)
    array([0.3       , 0.3       , 2.83333333, 2.83333333, 2.83333333])
    >>> optkern.tv.denoise(x, optkern.tv.lambda_max(x))     # the mean
    array([1.82, 1.82, 1.82, 1.82, 1.82])
    >>> optkern.tv.denoise(x, np.array([0.5, 0.0, 0.5, 0.5]))   # one weight per edge
    array([0.05, 0.05, 3.  , 3.  , 3.  ])
    >>> r = optkern.tv.denoise(x, 0.5, method="irls", tol=1e-10, max_iter=5000,
    ...                        return_info=True)
    >>> bool(np.abs(r.y - optkern.tv.denoise(x, 0.5)).max() < 1e-3), bool(r.converged)
    (True, True)
    """
    if (type(method) is str and method == "exact" and type(device) is str and device == "cpu"
            and return_info is False and stream is None):
        # The common call (a float32/float64 ndarray, a Python float λ): its own entry, which
        # returns None where the call is not that one. A short signal's solve takes a few µs,
        # and the general path's checks and wrappers would cost as much. The kernel checks x
        # for NaN and Inf itself, as it solves, and raises the general path's ValueError.
        y = _backend._core.tv.denoise_common(x, lam)
        if y is not None:
            return y
    return _denoise(x, lam, method=method, tol=tol, max_iter=max_iter, device=device,
                    return_info=return_info, stream=stream)


@_arrays.same_kind("x")
def _denoise(x: Any, lam: Any, *, method: str, tol: float, max_iter: int, device: str,
             return_info: bool, stream: Any) -> Any:
    """denoise's general path: every input it accepts, the common call's included."""
    if is_dask(x, lam):  # a lazy dask result (optkern/_dask.py)
        return _dask.denoise(denoise, **locals())
    return_info = check_bool(return_info, "return_info")
    if method not in METHODS:
        fail("method", "'exact' or 'irls'", repr(method))
    if method == "irls":
        tol = check_number(tol, "tol", low=0.0, low_open=True)
        max_iter = check_number(max_iter, "max_iter", low=1, integer=True)
    if resolve_device(device, [(x, "x"), (lam, "lam")], stream) == "cuda":
        with _gpu.use_stream(stream):
            return _cuda.denoise(x, lam, method, tol, max_iter, return_info)
    return _cpu.denoise(x, lam, method, tol, max_iter, return_info)


@_docs.fill
@_arrays.same_kind("y", "grad_y")
def denoise_vjp(y: Any, grad_y: Any, lam: Any, *, rtol: float | None = None,
                device: str = "cpu", stream: Any = None) -> tuple[Any, Any]:
    """The exact backward of :func:`denoise`: (∂L/∂x, ∂L/∂λ) from ∂L/∂y at its solution y.

    y is constant on segments S = [a..b]. There ∂y_S/∂x_i = 1/|S| for i in S (the Jacobian
    averages over each segment; it is the identity only where no neighbours fuse), and
    y_S = mean(x_S) − λ (v_b − v_{a−1}) / |S| with v_k = sign(y_k − y_{k+1}) (0 at both ends)
    gives ∂y_S/∂λ = −(v_b − v_{a−1}) / |S|. O(n) per signal.

    Parameters
    ----------
    y : array_like, shape (..., n)
        The output of :func:`denoise` (any solver's: see rtol).
    grad_y : array_like, shape (..., n)
        ∂L/∂y, the same shape as y.
    lam : float or array_like
        The λ y was computed with, as given to :func:`denoise`: its shape decides the shape of
        ∂L/∂λ (a scalar λ shared by all signals gets the sum of their contributions). With one
        weight per edge, edge e where y jumps gets ∂L/∂λ_e = v_e (mean(g_S') − mean(g_S)) for
        the segments S (left) and S' (right) it separates, and other edges 0.
    rtol : float, optional
        Neighbours with |y_k − y_{k+1}| <= rtol · max|y| (per signal) belong to one segment.
        The exact solvers write a segment as one value, so the default, 8 units of roundoff
        of y's dtype, only absorbs rounding; iterates of ``method="irls"``, which fuse only
        in the limit, need a tolerance near their accuracy (e.g. 1e-6).
    {device}
    {stream}

    Returns
    -------
    grad_x : array, shape (..., n)
        ∂L/∂x: the mean of grad_y over each segment, with y's dtype.
    grad_lam : scalar or ndarray
        ∂L/∂λ, with the shape of lam (a NumPy scalar for a scalar lam; a GPU array of that
        shape for GPU input).

    Raises
    ------
    ValueError
        If y and grad_y differ in shape, contain NaN or Inf, lam is invalid for y's batch
        shape (as in :func:`denoise`), or rtol is negative.

    Examples
    --------
    >>> import numpy as np, optkern
    >>> x = np.array([0.0, 0.1, 3.0, 3.1, 2.9])
    >>> y = optkern.tv.denoise(x, 0.5)                 # segments [0, 1] and [2, 3, 4]
    >>> grad_x, grad_lam = optkern.tv.denoise_vjp(y, np.array([1.0, 0, 0, 0, 3]), 0.5)
    >>> grad_x
    array([0.5, 0.5, 1. , 1. , 1. ])
    >>> float(grad_lam)         # L = y_0 + 3 y_4: dy_0/dlam = 1/2, dy_4/dlam = -1/3
    -0.5
    >>> w = np.full(4, 0.5)                    # the same λ, as one weight per edge
    >>> grad_x, grad_w = optkern.tv.denoise_vjp(optkern.tv.denoise(x, w),
    ...                                         np.array([1.0, 0, 0, 0, 3]), w)
    >>> grad_w.tolist()         # only edge 1, between the two segments, moves y
    [0.0, -0.5, 0.0, 0.0]
    """
    if is_dask(y, grad_y, lam):  # a lazy dask result (optkern/_dask.py)
        return _dask.denoise_vjp(denoise_vjp, **locals())
    if rtol is not None:
        rtol = check_number(rtol, "rtol", low=0.0)
    where = resolve_device(device, [(y, "y"), (grad_y, "grad_y"), (lam, "lam")], stream)
    if where == "cuda":
        with _gpu.use_stream(stream):
            return _cuda.denoise_vjp(y, grad_y, lam, rtol)
    return _cpu.denoise_vjp(y, grad_y, lam, rtol)


@_docs.fill
@_arrays.same_kind("img")
def denoise_2d(
    img: Any,
    lam: Any,
    *,
    isotropic: bool = False,
    tol: float = 1e-6,
    max_iter: int = 2000,
    return_info: bool = False,
) -> Any:
    """Total variation denoising of images: the prox of λ·TV over the last two axes.

    Anisotropic (default)::

        Y = argmin_U ½‖U − X‖² + λ Σ_ij (|U_i,j+1 − U_ij| + |U_i+1,j − U_ij|)

    (prox_tv's ``tv1_2d``), or isotropic (``isotropic=True``)::

        Y = argmin_U ½‖U − X‖² + λ Σ_ij sqrt((U_i,j+1 − U_ij)² + (U_i+1,j − U_ij)²)

    (the ROF model; scikit-image's ``denoise_tv_chambolle`` with ``weight = λ``), with
    forward differences and none past the last row or column.

    Parameters
    ----------
    img : array_like, shape (..., h, w)
        The images, one per index of the leading dimensions. float32 stays float32 (computed
        in float64); integers become float64. NaN and Inf are rejected.
    lam : float or array_like
        λ >= 0: one value for all images or one per image (a shape that broadcasts to
        ``img.shape[:-2]``).
    {tv2d_options}
    return_info : bool
        Return a :class:`Denoise2DResult` with the iterations and gaps.

    Returns
    -------
    ndarray, shape (..., h, w), or Denoise2DResult

    Raises
    ------
    ValueError
        If img has fewer than 2 dimensions, holds NaN or Inf, lam is negative, not finite or
        does not fit the batch shape, tol < 0 or max_iter < 1.

    Notes
    -----
    Anisotropic: TV splits into the row differences f1 and the column differences f2, whose
    proxes are exact 1-D solves (:func:`denoise` on every row, then every column). The dual
    of the prox of f1 + f2, minimised in closed form over the row part, leaves a problem in
    the column part with a 1-Lipschitz gradient, on which FISTA runs (Chambolle & Pock 2015;
    the plain alternation is Dykstra's algorithm, as in Barbero & Sra 2018): one row pass
    and one column pass of the 1-D solver per iteration, threaded over rows and columns.
    Isotropic: FISTA on the dual (Beck & Teboulle's fast gradient projection, 2009).
    Both return a primal point built from feasible dual points, so the gap
    ``<Y, Y − X> + λ TV(Y)`` bounds its distance to the optimum. Images run one after
    another, each on ``optkern.get_num_threads()`` threads.

    Examples
    --------
    >>> import numpy as np, optkern
    >>> img = np.zeros((6, 6)); img[1:5, 1:5] = 1.0
    >>> y = optkern.tv.denoise_2d(img, 0.1, tol=1e-10)
    >>> np.round(y[0], 4)      # the square and its surroundings move towards each other:
    array([0.08, 0.08, 0.08, 0.08, 0.08, 0.08])
    >>> float(np.round(y[2, 2], 4))  # 1 - lam inside, 16 lam / 20 outside (16 edges, 20 pixels)
    0.9
    >>> yi = optkern.tv.denoise_2d(img, 0.1, isotropic=True, tol=1e-10)
    >>> yi.shape, yi.dtype
    ((6, 6), dtype('float64'))
    """
    if is_dask(img, lam):  # a lazy dask result (optkern/_dask.py); lam: one per image
        per_image = is_dask(lam) or np.ndim(lam) > 0
        return batched(denoise_2d, {"img": 2, "lam": 0} if per_image else {"img": 2},
                       img=img, lam=lam, isotropic=isotropic, tol=tol, max_iter=max_iter,
                       return_info=return_info)
    isotropic = check_bool(isotropic, "isotropic")
    return_info = check_bool(return_info, "return_info")
    tol = check_number(tol, "tol", low=0.0)
    max_iter = check_number(max_iter, "max_iter", low=1, integer=True)
    return _cpu.denoise_2d(img, lam, isotropic, tol, max_iter, return_info)


@_docs.fill
@_arrays.same_kind("y", "grad_y")
def denoise_2d_vjp(y: Any, grad_y: Any, lam: Any, *,
                   rtol: float | None = None) -> tuple[np.ndarray, Any]:
    """The backward of anisotropic :func:`denoise_2d`: (∂L/∂X, ∂L/∂λ) from ∂L/∂Y at its
    solution Y.

    Y is constant on connected regions R of fused neighbours, and the Jacobian averages
    over each region (the generalized lasso's fit is locally the projection onto the null
    space of the differences across unfused edges: Tibshirani & Taylor 2011), so ∂L/∂X is
    the region mean of ∂L/∂Y; with s = sign(D Y) on the unfused edges,
    Y_R = mean(X_R) − λ (Dᵀs)_R / |R| gives ∂L/∂λ = −⟨D ∂L/∂X, s⟩. O(h w) per image. The
    isotropic prox has no such structure (its regions are not flat in general); it has no
    backward here.

    Parameters
    ----------
    y : array_like, shape (..., h, w)
        The output of ``denoise_2d(..., isotropic=False)``, solved to a small gap (its
        regions must be flat up to rtol).
    grad_y : array_like, shape (..., h, w)
        ∂L/∂Y.
    lam : float or array_like
        The λ y was computed with: its shape is ∂L/∂λ's (a scalar λ shared by all images
        gets the sum of their contributions).
    {tv2d_rtol}

    Returns
    -------
    grad_x : ndarray, shape (..., h, w)
    grad_lam : scalar or ndarray of lam's shape

    Raises
    ------
    ValueError
        For shapes or values that do not fit (as :func:`denoise_2d`), or rtol < 0.

    Examples
    --------
    >>> import numpy as np, optkern
    >>> img = np.zeros((4, 4)); img[1:3, 1:3] = 1.0
    >>> y = optkern.tv.denoise_2d(img, 0.1, tol=1e-12)
    >>> grad_x, grad_lam = optkern.tv.denoise_2d_vjp(y, np.ones((4, 4)), 0.1)
    >>> bool(np.allclose(grad_x, 1.0)), abs(float(grad_lam)) < 1e-12   # the total is fixed
    (True, True)
    """
    return _cpu.denoise_2d_vjp(y, grad_y, lam, rtol)


@_arrays.same_kind("x")
def lambda_max(x: Any) -> Any:
    """The smallest λ for which :func:`denoise` returns the constant mean of each signal:
    ``max_k |Σ_{i<=k} (x_i − mean(x))|`` over k < n.

    Parameters
    ----------
    x : array_like, shape (..., n)
        The signals, as for :func:`denoise` (finite; n may be 0).

    Returns
    -------
    float or ndarray of shape (...)
        float64, one value per signal (a float for a single signal).

    Raises
    ------
    ValueError
        If x is 0-dimensional or holds NaN or Inf.

    Examples
    --------
    >>> import numpy as np, optkern
    >>> float(optkern.tv.lambda_max(np.array([1.0, 3.0])))
    1.0
    >>> x = np.array([0.0, 2.0, 1.0, 5.0])
    >>> lam = optkern.tv.lambda_max(x)
    >>> np.allclose(optkern.tv.denoise(x, lam), x.mean())
    True
    """
    if is_dask(x):  # a lazy dask result (optkern/_dask.py)
        return batched(lambda_max, {"x": 1}, x=x)
    return _cpu.lambda_max(x)
