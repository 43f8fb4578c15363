"""1-D total variation denoising: :func:`denoise` (the prox of λ·TV) and its exact backward
:func:`denoise_vjp`, batched over signals, on CPU and GPU.

For every signal x of length n (the last axis), :func:`denoise` solves

    y = argmin_u  ½‖u − x‖² + λ Σ_k |u_k − u_{k+1}|

either exactly (``method="exact"``: the taut string method on the CPU, Condat's direct
algorithm on a GPU, both O(n)) or by the lecture notes' majorise–minimise iteration
(``method="irls"``) with an O(n) tridiagonal solve per step.

The solution is piecewise constant. Its Jacobian averages over each constant segment
(it is NOT the identity the lecture notes claim), so :func:`denoise_vjp` returns the segment
means of the incoming gradient, and the gradient with respect to λ from
y_S = mean(x_S) − λ (v_b − v_{a−1}) / |S| (v: the signs of the jumps at the segment's ends).
The derivations are in ``tests/reference/tv.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from optkern import _backend, _dask
from optkern._validation import (
    as_array,
    as_float_array,
    check_bool,
    check_number,
    compute_dtype,
    describe,
    fail,
    is_gpu_array,
    overflow_scale,
    resolve_device,
    result_dtype,
)

__all__ = ["Denoise2DResult", "DenoiseResult", "denoise", "denoise_2d", "denoise_2d_vjp",
           "denoise_vjp", "lambda_max"]

METHODS = ("exact", "irls")


@dataclass(frozen=True)
class DenoiseResult:
    """What :func:`denoise` returns with ``return_info=True``.

    Attributes
    ----------
    y : array, shape (..., n)
        The denoised signals (the same kind of array, dtype and device as x).
    nit : ndarray of int64, shape (...)
        Iterations each signal took (0 for the exact method).
    change : ndarray of float64, shape (...)
        Each signal's last relative change max|u_new − u| / max|u_new| (0 for the exact
        method).
    converged : ndarray of bool, shape (...)
        ``change <= tol`` (always True for the exact method).
    method : str
        "exact" or "irls".

    Examples
    --------
    >>> import numpy as np, optkern
    >>> x = np.array([[0.0, 1.0, 0.0, 1.0], [3.0, 3.0, 0.0, 0.0]])
    >>> info = optkern.tv.denoise(x, 0.25, method="irls", return_info=True)
    >>> info.method, info.y.shape, info.nit.shape, bool(info.converged.all())
    ('irls', (2, 4), (2,), True)
    >>> exact = optkern.tv.denoise(x, 0.25, return_info=True)
    >>> exact.y.tolist(), exact.nit.tolist()
    ([[0.25, 0.5, 0.5, 0.75], [2.875, 2.875, 0.125, 0.125]], [0, 0])
    """

    y: Any
    nit: np.ndarray
    change: np.ndarray
    converged: np.ndarray
    method: str


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
        the exact method (the taut string, one GPU thread per signal).
    method : {"exact", "irls"}
        "exact" (default): an exact direct algorithm, O(n) per signal: the taut string method
        on the CPU, Condat's algorithm (one GPU thread per signal, falling back to the taut
        string for signals it would scan too often) on a GPU.
        "irls": the lecture notes' majorise–minimise iteration
        ``u ← x − Dᵀ((1/λ)diag|Du| + DDᵀ)⁻¹Dx`` from u = x, one O(n) tridiagonal (Thomas)
        solve per step instead of the notes' dense Cholesky. It converges slowly (sublinearly
        once neighbours fuse; the notes' fixed 100 steps leave errors near 1e-2 at large λ)
        and never fuses neighbours exactly: use it to compare with the notes, not for speed.
    tol : float
        "irls" only: each signal stops when its relative change max|u_new − u| / max|u_new|
        is at most tol (> 0).
    max_iter : int
        "irls" only: the most iterations per signal (>= 1).
    device : {"cpu", "cuda", "auto"}
        Where to compute. "auto" follows the data. With "cuda", NumPy inputs are copied to the
        GPU and back; CuPy arrays, torch CUDA tensors and other DLPack GPU arrays are used in
        place and the result is the same kind of array. GPU arrays are not scanned for NaN
        or Inf (that would synchronise the device): NaN propagates into its signal's result.
    return_info : bool
        Return a :class:`DenoiseResult` (with iteration counts and final changes) instead of
        the array. For empty input its per-signal fields are read-only broadcast views, so
        that a batch of 2**40 empty signals needs no memory.
    stream : int, torch.cuda.Stream or cupy.cuda.Stream, optional
        The CUDA stream to run on (CUDA runs only; a ValueError on the CPU). By default the
        current stream of the library that made the GPU arrays, or the legacy default stream
        for NumPy input.

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
    The exact CPU solver runs the taut string method (Davies & Kovac 2001; Barbero & Sra
    2018): O(n) in the worst case, in double precision for float32 input too. Its sums run
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
    if _dask.is_dask(x, lam):  # a lazy dask result (optkern/_dask.py)
        return _dask.tv_denoise(**locals())
    return_info = check_bool(return_info, "return_info")
    if method not in METHODS:
        fail("method", "'exact' or 'irls'", repr(method))
    if method == "irls":
        tol = check_number(tol, "tol", low=0.0, low_open=True)
        max_iter = check_number(max_iter, "max_iter", low=1, integer=True)
    where = resolve_device(device, [(x, "x"), (lam, "lam")], stream)
    if where == "cuda":
        from optkern import _gpu, _tv_cuda

        x_shape = _shape_of(x)
        with _gpu.use_stream(stream):
            if len(x_shape) >= 1 and is_edge_weights(lam, x_shape):
                return _tv_cuda.denoise_weighted(x, lam, method, return_info)
            return _tv_cuda.denoise(x, lam, method, tol, max_iter, return_info)
    x = finite_signals(x, "x")
    batch = x.shape[:-1]
    if x.size == 0:  # no work: no memory per signal either (shape (2**40, 0) is fine)
        return empty_denoise(x, lam, method, tol, return_info)
    if is_edge_weights(lam, x.shape):  # one weight per edge
        weights = edge_weight_rows(lam, x.shape)
        kernels = (_backend._core.tv_denoise_weighted, _backend._core.tv_denoise_irls_weighted)
    else:  # one lam per signal
        weights = lambda_rows(lam, batch)
        kernels = (_backend._core.tv_denoise, _backend._core.tv_denoise_irls)
    rows = x.reshape(math.prod(batch), x.shape[-1])
    y = np.empty_like(rows)
    count = rows.shape[0]
    if method == "exact":
        kernels[0](rows, weights, y)
        nit, change = np.zeros(count, np.int64), np.zeros(count)
    else:
        nit, change = np.empty(count, np.int64), np.empty(count)
        kernels[1](rows, weights, tol, max_iter, y, nit, change)
    y = y.reshape(x.shape)
    if not return_info:
        return y
    return make_result(y, nit.reshape(batch), change.reshape(batch), method, tol)


def _shape_of(a: Any) -> tuple[int, ...]:
    return tuple(int(e) for e in (a.shape if is_gpu_array(a) else np.shape(a)))


def is_edge_weights(lam: Any, x_shape: tuple[int, ...]) -> bool:
    """Whether lam holds one weight per edge (shape (..., n − 1), the leading axes
    broadcasting to x's batch shape) rather than one value per signal. A shape that fits both
    readings is rejected (ValueError), never guessed; where both mean the same (n = 2) it is
    read per signal."""
    if type(lam) in (float, int) or isinstance(lam, (np.floating, np.integer)):
        return False
    shape, batch, n = _shape_of(lam), tuple(x_shape[:-1]), x_shape[-1]
    if len(shape) == 0 or n < 2 or shape[-1] != n - 1:
        return False
    try:
        per_edge = np.broadcast_shapes(shape[:-1], batch) == batch
    except ValueError:
        per_edge = False
    if not per_edge:
        return False
    try:
        lambda_shape(lam, batch)
    except ValueError:
        return True
    if n == 2:
        return False  # one edge: a weight per edge is a value per signal
    edge_form = (1,) * max(len(batch), 1) + (n - 1,)
    fail("lam", f"a shape that reads one way only: its shape {shape} fits both one value per "
         f"signal (batch shape {batch}) and one weight per edge (n - 1 = {n - 1}); pass "
         f"lam[..., None] for one value per signal, or shape {edge_form} for weights shared by "
         "all signals", f"shape {shape}")


def edge_weight_rows(lam: Any, x_shape: tuple[int, ...]) -> np.ndarray:
    """Per-edge lam as the kernels take it: float64 (1, n − 1) (shared by all signals) or
    (batch, n − 1), checked finite and >= 0."""
    batch, n = tuple(x_shape[:-1]), x_shape[-1]
    lam = as_array(lam, "lam")
    if lam.dtype.kind == "c":
        compute_dtype(lam.dtype, "lam")  # names the argument
    lam = lam.astype(np.float64, copy=False)
    if not np.isfinite(lam).all() or (lam < 0).any():
        bad = lam[~(np.isfinite(lam) & (lam >= 0))].ravel()[0]
        fail("lam", "finite values >= 0", repr(float(bad)))
    if math.prod(lam.shape[:-1]) == 1:
        return np.ascontiguousarray(lam.reshape(1, n - 1))
    full = np.broadcast_to(lam, batch + (n - 1,))
    return np.ascontiguousarray(full.reshape(math.prod(batch), n - 1))


@dataclass(frozen=True)
class Denoise2DResult:
    """What :func:`denoise_2d` returns with ``return_info=True``.

    Attributes
    ----------
    y : ndarray, shape (..., h, w)
        The denoised images (x's dtype).
    nit : ndarray of int64, shape (...)
        Iterations each image took.
    gap : ndarray of float64, shape (...)
        Each image's final duality gap relative to its objective: the objective of y is
        within ``gap`` (relative) of the optimum.
    converged : ndarray of bool, shape (...)
        ``gap <= tol``.
    isotropic : bool
        Which TV was solved.

    Examples
    --------
    >>> import numpy as np, optkern
    >>> img = np.zeros((8, 8)); img[2:6, 2:6] = 1.0
    >>> info = optkern.tv.denoise_2d(img, 0.1, return_info=True)
    >>> bool(info.converged), bool(info.gap <= 1e-6), info.y.shape
    (True, True, (8, 8))
    """

    y: np.ndarray
    nit: np.ndarray
    gap: np.ndarray
    converged: np.ndarray
    isotropic: bool


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
    isotropic : bool
        Which TV (see above).
    tol : float
        Each image stops once its duality gap, relative to its objective, is at most tol
        (>= 0): its objective is then within that fraction of the optimum.
    max_iter : int
        The most iterations per image (>= 1).
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
    isotropic = check_bool(isotropic, "isotropic")
    return_info = check_bool(return_info, "return_info")
    tol = check_number(tol, "tol", low=0.0)
    max_iter = check_number(max_iter, "max_iter", low=1, integer=True)
    x = as_float_array(img, "img", None, min_ndim=2, finite=False)
    with np.errstate(over="ignore", invalid="ignore"):
        if not np.isfinite(x.sum()) and not np.isfinite(x).all():
            fail("img", "finite values", "NaN or Inf")
    batch, (h, w) = x.shape[:-2], x.shape[-2:]
    lam_rows = lambda_rows(lam, batch)
    count = math.prod(batch)
    images = np.ascontiguousarray(x.reshape(count, h, w))
    y = np.empty_like(images)
    nit, gap = np.empty(count, np.int64), np.empty(count)
    _backend._core.tv_denoise_2d(images, lam_rows, bool(isotropic), tol, max_iter, y, nit, gap)
    y = y.reshape(x.shape)
    if not return_info:
        return y
    return Denoise2DResult(y=y, nit=nit.reshape(batch), gap=gap.reshape(batch),
                           converged=gap.reshape(batch) <= tol, isotropic=bool(isotropic))


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
    rtol : float, optional
        Neighbours with |Y_p − Y_q| <= rtol · max|Y| are fused. Default: 1e-7 (the iterative
        solver's regions are flat to about its gap), 1e-5 for float32.

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
    y_arr, g_arr = as_array(y, "y"), as_array(grad_y, "grad_y")
    dtype = result_dtype((y_arr.dtype, "y"), (g_arr.dtype, "grad_y"))
    y_arr = as_float_array(y_arr, "y", dtype, min_ndim=2)
    g_arr = as_float_array(g_arr, "grad_y", dtype, min_ndim=2)
    if g_arr.shape != y_arr.shape:
        fail("grad_y", f"the shape of y {y_arr.shape}", f"shape {g_arr.shape}")
    if rtol is None:
        rtol = 1e-5 if dtype == np.float32 else 1e-7
    rtol = check_number(rtol, "rtol", low=0.0)
    batch, (h, w) = y_arr.shape[:-2], y_arr.shape[-2:]
    lambda_rows(lam, batch)  # checks lam's values and shape
    lam_shape = lambda_shape(lam, batch)
    count = math.prod(batch)
    grad_x = np.empty((count, h, w), dtype)
    per_image = np.empty(count)
    _backend._core.tv_denoise_2d_vjp(np.ascontiguousarray(y_arr.reshape(count, h, w)),
                                     np.ascontiguousarray(g_arr.reshape(count, h, w)), rtol,
                                     grad_x, per_image)
    grad_lam = sum_to_shape(per_image.reshape(batch), lam_shape).astype(dtype)
    return grad_x.reshape(y_arr.shape), grad_lam[()] if grad_lam.ndim == 0 else grad_lam


def make_result(y: Any, nit: np.ndarray, change: np.ndarray, method: str,
                tol: float) -> DenoiseResult:
    converged = change <= tol if method == "irls" else np.ones(change.shape, bool)
    return DenoiseResult(y=y, nit=nit, change=change, converged=converged, method=method)


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
    device : {"cpu", "cuda", "auto"}
        As for :func:`denoise`.
    stream : int, torch.cuda.Stream or cupy.cuda.Stream, optional
        As for :func:`denoise`.

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
    if _dask.is_dask(y, grad_y, lam):  # a lazy dask result (optkern/_dask.py)
        return _dask.tv_denoise_vjp(**locals())
    if rtol is not None:
        rtol = check_number(rtol, "rtol", low=0.0)
    where = resolve_device(device, [(y, "y"), (grad_y, "grad_y"), (lam, "lam")], stream)
    if where == "cuda":
        from optkern import _gpu, _tv_cuda

        y_shape = _shape_of(y)
        with _gpu.use_stream(stream):
            if len(y_shape) >= 1 and is_edge_weights(lam, y_shape):
                if not (is_gpu_array(y) or is_gpu_array(grad_y)):
                    y, grad_y = as_array(y, "y"), as_array(grad_y, "grad_y")
                    return _weighted_vjp(y, grad_y, lam, rtol)  # host data: the CPU's
                return _tv_cuda.denoise_vjp_weighted(y, grad_y, lam, rtol)
            return _tv_cuda.denoise_vjp(y, grad_y, lam, rtol)
    if (not is_gpu_array(y) and np.ndim(y) >= 1
            and is_edge_weights(lam, _shape_of(y))):
        return _weighted_vjp(y, grad_y, lam, rtol)
    y_arr, g_arr, lam_shape = vjp_inputs(y, grad_y, lam)
    dtype, batch = y_arr.dtype, y_arr.shape[:-1]
    if y_arr.size == 0:  # no work, no memory per signal: every gradient is zero
        grad_lam = np.zeros(lam_shape, dtype)
        return np.empty(y_arr.shape, dtype), grad_lam[()] if grad_lam.ndim == 0 else grad_lam
    rows = y_arr.reshape(math.prod(batch), y_arr.shape[-1])
    grad_x = np.empty_like(rows)
    per_signal = np.empty(rows.shape[0])
    scale = overflow_scale(g_arr)  # the vjp is linear in grad_y
    if scale != 1:
        g_arr = g_arr / scale
    _backend._core.tv_denoise_vjp(rows, g_arr.reshape(rows.shape), default_rtol(rtol, dtype),
                                  grad_x, per_signal)
    grad_lam = sum_to_shape(per_signal.reshape(batch), lam_shape)
    with np.errstate(over="ignore"):  # only where the true value is out of range
        grad_x *= scale
        grad_lam = (grad_lam * scale).astype(dtype)
    return grad_x.reshape(y_arr.shape), grad_lam[()] if grad_lam.ndim == 0 else grad_lam


def _weighted_vjp(y: Any, grad_y: Any, lam: Any, rtol: float | None) -> tuple[Any, Any]:
    """denoise_vjp for one weight per edge: grad_lam has lam's shape (summed over the axes
    lam was broadcast along)."""
    y_arr, g_arr = as_array(y, "y"), as_array(grad_y, "grad_y")
    dtype = result_dtype((y_arr.dtype, "y"), (g_arr.dtype, "grad_y"))
    y_arr = finite_signals(y_arr, "y", dtype)
    g_arr = finite_signals(g_arr, "grad_y", dtype)
    if g_arr.shape != y_arr.shape:
        fail("grad_y", f"the shape of y {y_arr.shape}", f"shape {g_arr.shape}")
    edge_weight_rows(lam, y_arr.shape)  # checks the values
    batch, n = y_arr.shape[:-1], y_arr.shape[-1]
    rows = y_arr.reshape(math.prod(batch), n)
    grad_x = np.empty_like(rows)
    per_edge = np.empty((rows.shape[0], n - 1))
    scale = overflow_scale(g_arr)
    if scale != 1:
        g_arr = g_arr / scale
    _backend._core.tv_denoise_vjp_weighted(rows, g_arr.reshape(rows.shape),
                                           default_rtol(rtol, dtype), grad_x, per_edge)
    lam_shape = _shape_of(lam)
    per_edge = per_edge.reshape(batch + (n - 1,))
    lead = per_edge.ndim - len(lam_shape)
    grad_lam = per_edge.sum(axis=tuple(range(lead))) if lead else per_edge
    axes = tuple(i for i, e in enumerate(lam_shape) if e == 1 and grad_lam.shape[i] != 1)
    if axes:
        grad_lam = grad_lam.sum(axis=axes, keepdims=True)
    with np.errstate(over="ignore"):
        grad_x *= scale
        grad_lam = (grad_lam.reshape(lam_shape) * scale).astype(dtype)
    return grad_x.reshape(y_arr.shape), grad_lam


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
    if _dask.is_dask(x):  # a lazy dask result (optkern/_dask.py)
        return _dask.batched(lambda_max, {"x": 1}, x=x)
    x = as_float_array(x, "x", np.float64, min_ndim=1)
    if x.shape[-1] == 0:  # zeros, as a read-only view: (2**40, 0) needs no memory
        return np.broadcast_to(np.float64(0.0), x.shape[:-1])[()]
    # Each signal is divided by a power of two near its largest |x_k| (exact), so that the
    # sums overflow only where the result itself does (x near 1e308 gave Inf, not 0).
    scale = np.ldexp(1.0, np.frexp(np.abs(x).max(axis=-1, keepdims=True))[1] - 1)
    x = x / scale
    z = np.cumsum(x - x.mean(axis=-1, keepdims=True), axis=-1)[..., :-1]
    with np.errstate(over="ignore"):
        return (np.abs(z).max(axis=-1, initial=0.0) * scale[..., 0])[()]


def vjp_inputs(y: Any, grad_y: Any, lam: Any) -> tuple[np.ndarray, np.ndarray,
                                                        tuple[int, ...]]:
    """The host arrays of denoise_vjp, checked: y and grad_y in their common dtype, and the
    shape of lam (whose values are checked as denoise checks them)."""
    y_arr, g_arr = as_array(y, "y"), as_array(grad_y, "grad_y")
    dtype = result_dtype((y_arr.dtype, "y"), (g_arr.dtype, "grad_y"))
    y_arr = finite_signals(y_arr, "y", dtype)
    g_arr = finite_signals(g_arr, "grad_y", dtype)
    if g_arr.shape != y_arr.shape:
        fail("grad_y", f"the shape of y {y_arr.shape}", f"shape {g_arr.shape}")
    lambda_rows(lam, y_arr.shape[:-1])
    return y_arr, g_arr, lambda_shape(lam, y_arr.shape[:-1])


def finite_signals(x: Any, name: str, dtype: Any = None) -> np.ndarray:
    """as_float_array(x, name, dtype, min_ndim=1), with the NaN/Inf check done by a sum first:
    a finite sum proves every term finite without a boolean temporary (an overflowing sum of
    finite values falls through to the exact check)."""
    if (type(x) is np.ndarray and x.dtype.char in "fd" and x.dtype.isnative and x.ndim >= 1
            and x.flags.c_contiguous
            and (dtype is None or x.dtype == dtype)):
        arr = x  # the common case, as the kernels take it
    else:
        arr = as_float_array(x, name, dtype, min_ndim=1, finite=False)
    with np.errstate(over="ignore", invalid="ignore"):
        total = arr.sum()
    if not np.isfinite(total) and not np.isfinite(arr).all():
        fail(name, "finite values", "NaN or Inf")
    return arr


def default_rtol(rtol: float | None, dtype: np.dtype) -> float:
    return 8 * float(np.finfo(dtype).eps) if rtol is None else rtol


def lambda_shape(lam: Any, batch: tuple[int, ...]) -> tuple[int, ...]:
    """Check lam's shape against the batch shape of x; returns it."""
    shape = tuple(np.shape(lam)) if not is_gpu_array(lam) else tuple(lam.shape)
    if len(shape) == len(batch) + 1 and shape[-1:] == (1,):
        shape_core = shape[:-1]  # the keepdims form x.shape[:-1] + (1,)
    else:
        shape_core = shape
    try:
        fits = np.broadcast_shapes(shape_core, batch) == tuple(batch)
    except ValueError:
        fits = False
    if not fits:
        fail("lam", f"a scalar or a shape that broadcasts to x's batch shape {tuple(batch)}",
             f"shape {shape}")
    return shape


def lambda_rows(lam: Any, batch: tuple[int, ...]) -> np.ndarray:
    """lam as the kernels take it: a float64 array of one value, or one per signal."""
    if isinstance(lam, (bool, np.bool_)) or getattr(lam, "dtype", None) == np.bool_:
        fail("lam", "finite values >= 0 (numbers, not booleans)", describe(lam))
    if type(lam) in (float, int) or isinstance(lam, (np.floating, np.integer)):
        try:
            value = float(lam)
        except OverflowError:  # 10**400
            value = math.inf if lam > 0 else -math.inf
        if not 0 <= value < math.inf:
            fail("lam", "finite values >= 0", repr(value))
        return np.array([value])
    shape = lambda_shape(lam, batch)
    lam = as_array(lam, "lam")
    if lam.dtype.kind == "c":
        compute_dtype(lam.dtype, "lam")  # names the argument
    lam = lam.astype(np.float64, copy=False)
    if not np.isfinite(lam).all() or (lam < 0).any():
        bad = lam[~(np.isfinite(lam) & (lam >= 0))].ravel()[0]
        fail("lam", "finite values >= 0", repr(float(bad)))
    if lam.size == 1:
        return np.ascontiguousarray(lam.reshape(1))
    core = lam.reshape(shape[:-1]) if len(shape) == len(batch) + 1 else lam
    return np.ascontiguousarray(np.broadcast_to(core, batch).reshape(-1))


def sum_to_shape(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum per-signal values (batch shape) over the axes lam was broadcast along."""
    if len(shape) == values.ndim + 1:  # keepdims form of lam
        return sum_to_shape(values, shape[:-1]).reshape(shape)
    lead = values.ndim - len(shape)
    out = values.sum(axis=tuple(range(lead))) if lead else values
    axes = tuple(i for i, extent in enumerate(shape) if extent == 1 and out.shape[i] != 1)
    if axes:
        out = out.sum(axis=axes, keepdims=True)
    return out.reshape(shape)



def checked_lambda(lam: Any, batch: tuple[int, ...]) -> None:
    """The checks of lambda_rows (shape against the batch, values), without broadcasting lam
    to one value per signal."""
    shape = lambda_shape(lam, batch)
    core = shape[:-1] if len(shape) == len(batch) + 1 and shape[-1:] == (1,) else shape
    lambda_rows(lam, core)


def empty_denoise(x: np.ndarray, lam: Any, method: str, tol: float,
                  return_info: bool) -> Any:
    """denoise of an empty batch or of empty signals. The per-signal info (nit 0, change 0,
    converged) is a read-only broadcast view: a batch of 2**40 empty signals costs nothing."""
    batch = x.shape[:-1]
    checked_lambda(lam, batch)
    y = np.empty(x.shape, x.dtype)
    if not return_info:
        return y
    nit = np.broadcast_to(np.int64(0), batch)
    change = np.broadcast_to(np.float64(0.0), batch)
    return DenoiseResult(y=y, nit=nit, change=change,
                         converged=np.broadcast_to(np.True_, batch), method=method)
