"""One definition of the docstring paragraphs that several public functions share.

A docstring names a shared paragraph by a line holding only ``{name}``; :func:`fill`
replaces that line by the paragraph of that name, indented as the line was. Lines that
follow it, indented deeper, continue the paragraph's description, so a function adds what is
its own (``{device}`` then ``    GPU arrays are not scanned...``). Braces anywhere else in a
docstring are left alone, and an unknown name fails at import, not in a reader's ``help``.

Whoever changes what ``reg``, ``stream=`` or an optimizer option means changes it here once,
and :func:`optkern.ot.sinkhorn`, its variants, the torch and JAX adapters, the linalg and tv
functions and :func:`optkern.optimize.minimize` / ``minimize_batch`` all say the same.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any, Callable, TypeVar, overload

__all__ = ["TEXTS", "fill", "render"]

T = TypeVar("T")

_MARKER = re.compile(r"^([ \t]*)\{([A-Za-z_][A-Za-z0-9_]*)\}[ \t]*$", re.MULTILINE)


def _paragraphs(**texts: str) -> dict[str, str]:
    return {name: textwrap.dedent(text).strip("\n") for name, text in texts.items()}


# --- where and on which stream (linalg, tv, ot, optimize, givens) ---------------------------

TEXTS = _paragraphs(
    device="""
        device : {"cpu", "cuda", "auto"}
            Where to compute. "auto" follows the data: CUDA for GPU arrays, else the CPU.
            With "cuda", NumPy inputs are copied to the GPU and the results back; CuPy
            arrays, torch CUDA tensors and other DLPack GPU arrays are used in place, and the
            results are arrays of the same kind on the same device.""",
    stream="""
        stream : int, torch.cuda.Stream or cupy.cuda.Stream, optional
            The CUDA stream to run on (CUDA runs only; a ValueError on the CPU). By default
            the current stream of the library that made the GPU arrays, or the legacy default
            stream for NumPy input.""",
)

# --- entropic OT (optkern.ot and its torch and JAX adapters) --------------------------------

TEXTS.update(_paragraphs(
    sinkhorn_M="""
        M : array_like, shape (..., m, n)
            Cost matrix (finite, with max|M| / reg at most 1e15, beyond which rounding alone
            moves the plan's exponents by more than 0.2). Its dtype sets the dtype of the
            results: float32 stays float32 (potentials and all sums are still computed in
            float64), integers become float64.""",
    sinkhorn_ab="""
        a, b : array_like, shapes (..., m) and (..., n), optional
            Marginal weights, >= 0, each with a total mass in [1e-300, 1e300] (the plan
            scales with it), and ``sum(a) == sum(b)`` to a relative 1e-6 (b is then rescaled
            to the mass of a exactly). Default: uniform, with the mass of a for b. Zero
            weights are allowed. The batch dimensions of M, a, b (and init) broadcast; a
            shared operand is read in place, not copied per problem.""",
    sinkhorn_reg="""
        reg : float
            The entropic regularisation epsilon, >= 1e-300 (the gradients scale with
            1/reg).""",
    sinkhorn_method="""
        method : {"auto", "plain", "log"}
            "plain" forms ``K = exp(-M/reg)`` once (after shifting M by its row and column
            minima) and reads it once per iteration. "log" updates the potentials by
            log-sum-exp with a vectorised exp: the method for small reg. "auto" takes
            "plain" when the shifted kernel fits the floating-point range
            (``max(M - shifts) / reg`` at most 300 in float64, 80 in float32) and "log"
            otherwise. A "plain" iteration whose scalings leave the range of double goes on
            in the log domain, so no method returns NaN or Inf for finite input.""",
    sinkhorn_tol="""
        tol : float
            Stop when the max-norm marginal violation is at most ``tol * sum(a)``; checked
            every 10 iterations, at no extra pass over M (the check is fused into the
            iteration).""",
    sinkhorn_max_iter="""
        max_iter : int
            The most iterations to do (>= 1). With ``tol=0`` exactly max_iter are done.""",
    sinkhorn_init="""
        init : (f, g), optional
            Warm start from potentials (for example a previous result's ``f, g``): the
            iteration starts from g, or, when g is None, from the soft c-transform of f.""",
    # The adapters: tensors (torch) and traced arrays (JAX) in place of NumPy arrays.
    torch_M="""
        M : Tensor or array_like, shape (..., m, n)
            Cost matrices, on the CPU or a CUDA device. float32 stays float32; bfloat16 is
            computed in float32 and the result returned in bfloat16. Sparse tensors are
            refused (ValueError naming the argument), as by every function of
            optkern.torch.""",
    torch_ab="""
        a, b : Tensor or array_like, shapes (..., m) and (..., n), optional
            Marginals (default uniform, b with the mass of a), on M's device. sum(b) must
            equal sum(a) to a relative 1e-6, as for :func:`optkern.ot.sinkhorn`, which then
            rescales b to the mass of a; the gradients are those of that function:
            ``dL/da_i = lambda_i + <mu, b> / sum(b)`` and ``dL/db = sum(a)/sum(b) (mu -
            <mu, b> / sum(b))`` with the multipliers (lambda, mu) of sinkhorn_vjp (see
            ``optkern/_autodiff.py``). Batch dimensions of M, a and b broadcast; gradients
            are summed back to each shape.""",
    jax_M="""
        M : array_like, shape (..., m, n)
            Cost matrices. The result has M's dtype (float32 unless ``jax_enable_x64`` is
            on).""",
    jax_ab="""
        a, b : array_like, shapes (..., m) and (..., n), optional
            Marginals (default uniform, b with the mass of a), cast to M's dtype; equal mass
            to a relative 1e-6. Batch dimensions broadcast (gradients are summed back).""",
    on_singular="""
        on_singular : {"raise", "nan"}
            What the backward does when a problem's KKT system is singular (as in
            :func:`optkern.ot.sinkhorn_vjp`).""",
    # Point clouds (sinkhorn_divergence in optkern.ot, optkern.torch and optkern.jax).
    cloud_ab="""
        a, b : array_like, shapes (..., m) and (..., n), optional
            Weights (default uniform, b with the mass of a), of equal mass, as in
            :func:`optkern.ot.sinkhorn`.""",
    divergence_reg="""
        reg : float
            The entropic regularisation epsilon, > 0, in the units of the cost.""",
    cloud_cost="""
        cost : {"sqeuclidean", "euclidean"}
            ``C(x, y) = |x - y|^2`` (POT's default metric) or ``|x - y|``.""",
    divergence_loss="""
        loss : {"entropic", "linear"}
            Which OT quantity is debiased: the entropic value of
            :func:`optkern.ot.sinkhorn_cost` or the transport cost of
            :func:`optkern.ot.sinkhorn2`.""",
    # Unbalanced OT (optkern.ot.sinkhorn_unbalanced, its vjp and its adapters).
    unbalanced_reg="""
        reg : float
            The entropic regularisation, > 0.""",
    unbalanced_reg_m="""
        reg_m : float or (float, float)
            The marginal penalties rho (> 0), one for both sides or ``(rho_a, rho_b)``;
            ``inf`` on one side makes that marginal exact.""",
    unbalanced_reg_type="""
        reg_type : {"kl", "entropy"}
            The reference measure c of the entropic term: ``c = a b^T`` ("kl", POT's
            default) or ``c = 1`` ("entropy").""",
    unbalanced_tol="""
        tol : float
            Stop when no log-scaling ``f / reg``, ``g / reg`` moved by more than tol in an
            iteration (POT stops on the relative change of u and v, which is the same
            measure to first order). Rounding leaves a floor of about 1e-14 (times log m): a
            smaller tol runs to max_iter and reports converged=False.""",
    unbalanced_max_iter="""
        max_iter : int
            The most iterations (>= 1).""",
))


def _joined(*parts: str) -> str:
    """Paragraphs in order: a name of TEXTS, or a line continuing the one before (its
    description, so indented by four)."""
    return "\n".join(TEXTS[part] if part in TEXTS else "    " + part for part in parts)


# Groups of parameters that come together: one line in a docstring each.
TEXTS["sinkhorn_options"] = _joined("sinkhorn_method", "sinkhorn_tol", "sinkhorn_max_iter")
TEXTS["sinkhorn_problem"] = _joined("sinkhorn_M", "sinkhorn_ab", "sinkhorn_reg",
                                    "sinkhorn_options", "sinkhorn_init")
TEXTS["torch_sinkhorn_problem"] = _joined("torch_M", "torch_ab", "sinkhorn_reg",
                                          "Not differentiated.", "sinkhorn_options",
                                          "sinkhorn_init")
TEXTS["jax_sinkhorn_problem"] = _joined("jax_M", "jax_ab", "sinkhorn_reg",
                                        "Static (not differentiated).", "sinkhorn_options",
                                        "Static under ``jax.jit``, as method and tol.")
TEXTS["divergence_options"] = _joined("divergence_reg", "cloud_cost", "divergence_loss",
                                      "sinkhorn_options")
TEXTS["unbalanced_options"] = _joined("unbalanced_reg", "unbalanced_reg_m",
                                      "unbalanced_reg_type", "unbalanced_tol",
                                      "unbalanced_max_iter")

# The Returns and Raises sections of the JAX adapters' Sinkhorn values (sinkhorn_cost, sinkhorn2).
TEXTS.update(_paragraphs(
    jax_value_returns="""
        Returns
        -------
        jax.Array, shape (...)
            One value per problem, with M's dtype.

        Raises
        ------
        ValueError
            As :func:`optkern.jax.sinkhorn`.""",
))

# --- total variation (optkern.tv.denoise and its adapters) ---------------------------------

TEXTS.update(_paragraphs(
    tv_options="""
        method : {"exact", "irls"}
            "exact" (default): an exact direct algorithm, O(n) per signal: the taut string
            method on the CPU, Condat's algorithm (one GPU thread per signal, falling back to
            the taut string for signals it would scan too often) on a GPU.
            "irls": the lecture notes' majorise–minimise iteration
            ``u ← x − Dᵀ((1/λ)diag|Du| + DDᵀ)⁻¹Dx`` from u = x, one O(n) tridiagonal
            (Thomas) solve per step instead of the notes' dense Cholesky. It converges slowly
            (sublinearly once neighbours fuse; the notes' fixed 100 steps leave errors near
            1e-2 at large λ) and never fuses neighbours exactly: use it to compare with the
            notes, not for speed.
        tol : float
            "irls" only: each signal stops when its relative change
            max|u_new − u| / max|u_new| is at most tol (> 0).
        max_iter : int
            "irls" only: the most iterations per signal (>= 1).""",
    tv_rtol="""
        rtol : float, optional
            How close neighbours of y must be to count as one segment in the backward (see
            :func:`optkern.tv.denoise_vjp`); default: rounding only for ``"exact"``, 1e-6
            for ``"irls"``, whose iterates fuse only in the limit.""",
    tv2d_options="""
        isotropic : bool
            Which TV: anisotropic (False, the sum of absolute differences) or isotropic
            (True, the sum of the gradient's norms).
        tol : float
            Each image stops once its duality gap, relative to its objective, is at most tol
            (>= 0): its objective is then within that fraction of the optimum.
        max_iter : int
            The most iterations per image (>= 1).""",
    tv2d_rtol="""
        rtol : float, optional
            Neighbours with |Y_p − Y_q| <= rtol · max|Y| are fused. Default: 1e-7 (the
            iterative solver's regions are flat to about its gap), 1e-5 for float32.""",
))

# --- smooth optimisation (minimize, minimize_batch and the SciPy surface) --------------------

TEXTS.update(_paragraphs(
    optimizer_options="""
        m : int
            L-BFGS history (pairs kept).
        c1, c2 : float
            Sufficient decrease and curvature constants, ``0 < c1 < c2 < 1`` (c2 is used by
            the strong Wolfe search of "lbfgs" and "bfgs").
        gtol : float
            Stop when ``max(abs(g)) <= gtol`` (SciPy's ``gtol``).
        ftol : float, optional
            Stop when ``(f_old - f) <= ftol * max(|f_old|, |f|, 1)`` (SciPy's ``ftol``).
            Default (None): SciPy L-BFGS-B's 2.2e-9. SciPy's BFGS has no such test: pass
            ``ftol=0`` for its stopping rule.
        max_iter, max_fev : int
            Limits on iterations and on evaluations of ``fun``.
        max_ls : int
            Evaluations per strong Wolfe line search.
        alpha0 : float, optional
            First trial step of "gd" and "newton" (default 1; the thesis' Figure 2 uses 0.1
            for gradient descent).
        tau : float
            Backtracking factor of "gd" and "newton".
        eig_floor : float, optional
            Eigenvalue floor: 1e-6 for Newton's Hessians, 1e-3 for BFGS's first matrix.""",
    scipy_names="""
        ==========================  ==============================================
        SciPy                       optkern
        ==========================  ==============================================
        ``method="L-BFGS-B"``       ``"lbfgs"`` (L-BFGS-B when ``bounds`` are given)
        ``method="BFGS"``           ``"bfgs"``
        ``method="Newton"``         ``"newton"`` (modified Newton; SciPy has no exact peer)
        ``options["maxcor"]``       ``m``
        ``options["maxiter"]``      ``max_iter``
        ``options["maxfun"]``       ``max_fev``
        ``options["maxls"]``        ``max_ls``
        ``options["gtol"]``         ``gtol``
        ``options["ftol"]``         ``ftol``
        ``options["c1"/"c2"]``      ``c1``/``c2``
        ``options["eps"]``          finite-difference step (``jac`` None/False/scheme)
        ``options["disp"]``         print the final message
        ``tol``                     ``ftol`` and ``gtol`` ("lbfgs"), else ``gtol``
        ``status``                  0 converged, 1 limit, 2 abnormal, 99 callback
        ==========================  ==============================================""",
))


def render(doc: str, texts: dict[str, str] | None = None) -> str:
    """`doc` with every ``{name}`` line replaced by its paragraph (from `texts`, then
    :data:`TEXTS`), indented as the line was. KeyError for a name neither holds."""
    table = TEXTS if not texts else {**TEXTS, **_paragraphs(**texts)}

    def paragraph(match: re.Match[str]) -> str:
        indent, name = match.groups()
        if name not in table:
            raise KeyError(f"optkern._docs: no shared paragraph named {name!r}")
        return textwrap.indent(table[name], indent, lambda line: bool(line.strip()))

    return _MARKER.sub(paragraph, doc)


@overload
def fill(obj: T, /) -> T: ...


@overload
def fill(obj: None = None, /, **texts: str) -> Callable[[T], T]: ...


def fill(obj: Any = None, /, **texts: str) -> Any:
    """Decorator: fill the shared paragraphs into a function's or class's docstring.

    ``@fill`` uses :data:`TEXTS`; ``@fill(name=text, ...)`` adds paragraphs of the caller's
    own (for example one shared by the methods of one class). Under ``python -OO`` there is
    no docstring and nothing to do. The object itself is returned, its type unchanged."""
    def apply(target: T) -> T:
        doc = getattr(target, "__doc__", None)
        if doc:
            target.__doc__ = render(doc, texts)
        return target

    if obj is not None:
        return apply(obj)
    return apply
