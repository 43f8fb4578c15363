# Stub of the compiled CPU module (python/bindings/core). Internal: use the optkern package.
#
# Functions bound without py::arg names take positional arguments only (pybind11 calls them
# arg0, arg1, ...): their parameters end with "/" and carry the names of the C++ source.
# The Python side (python/optkern/) has already validated everything: arrays arrive
# C-contiguous in the dtype of the call, and output arrays are preallocated and written in
# place. tests/test_stubs.py checks these stubs against the module's signatures.
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, Protocol, TypedDict, TypeVar, overload

import numpy as np
from numpy.typing import NDArray

# An array of the call's float dtype (the binding dispatches on it).
_FloatArray = NDArray[np.float32] | NDArray[np.float64]
_IndexArray = NDArray[np.int64]

class _BuildInfo(TypedDict):
    version: str
    compiler: str
    eigen_version: str
    simd: str  # the SIMD level in use: "baseline", "avx2", "avx512" (or "native", ...)
    simd_compiled: list[str]  # the levels compiled in, e.g. ["baseline", "avx2", "avx512"]
    simd_flags: list[str]  # instruction sets of the level in use, e.g. ["SSE4.2", "AVX2"]
    simd_bytes: int  # the vector width of the level in use's hand-vectorised kernels
    openmp: int  # _OPENMP, e.g. 201511; 0 without OpenMP

# The core's C++ enums, bound by name (python/optkern passes these, never bare integers).
class _Enum:
    def __init__(self, value: int) -> None: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...
    __members__: ClassVar[dict[str, Any]]

def build_info() -> _BuildInfo: ...
def num_threads() -> int: ...
def set_num_threads(n: int) -> int: ...

# --- linalg ------------------------------------------------------------------------------
def bmm(
    a: _FloatArray,
    b: _FloatArray,
    out: _FloatArray,
    extents: Sequence[int],
    a_batch_strides: Sequence[int],
    b_batch_strides: Sequence[int],
    c_batch_strides: Sequence[int],
    /,
) -> None: ...
def bmm_same_batch(a: _FloatArray, b: _FloatArray, out: _FloatArray, /) -> None: ...

# --- givens ------------------------------------------------------------------------------
# dst <- (G P) src or (G P)^T src, (batch, d, cols) C-contiguous; perm and signs empty for
# P = I.
@overload
def givens_apply_signed(
    i: _IndexArray,
    j: _IndexArray,
    cos: NDArray[np.float32],
    sin: NDArray[np.float32],
    perm: _IndexArray,
    signs: NDArray[np.int8],
    src: NDArray[np.float32],
    dst: NDArray[np.float32],
    transpose: bool,
    threads: int,
) -> None: ...
@overload
def givens_apply_signed(
    i: _IndexArray,
    j: _IndexArray,
    cos: NDArray[np.float64],
    sin: NDArray[np.float64],
    perm: _IndexArray,
    signs: NDArray[np.int8],
    src: NDArray[np.float64],
    dst: NDArray[np.float64],
    transpose: bool,
    threads: int,
) -> None: ...
@overload
def givens_apply(
    i: _IndexArray,
    j: _IndexArray,
    cos: NDArray[np.float32],
    sin: NDArray[np.float32],
    x: NDArray[np.float32],
    transpose: bool,
    threads: int,
) -> None: ...
@overload
def givens_apply(
    i: _IndexArray,
    j: _IndexArray,
    cos: NDArray[np.float64],
    sin: NDArray[np.float64],
    x: NDArray[np.float64],
    transpose: bool,
    threads: int,
) -> None: ...

# The factorization engines of optkern.givens, one class per method and dtype. run() writes up
# to max_steps factors into i, j, theta, score from position `offset` and returns how many it
# wrote (fewer once no pair improves the objective). The bindings share no base class: the
# generic _GivensEngine exists only here, to say once what every engine has.
_T = TypeVar("_T", np.float32, np.float64)

class _GivensEngine(Generic[_T]):
    def run(
        self,
        max_steps: int,
        i: _IndexArray,
        j: _IndexArray,
        theta: NDArray[_T],
        score: NDArray[np.float64],
        offset: int,
    ) -> int: ...
    @property
    def converged(self) -> bool: ...
    def matrix(self) -> NDArray[_T]: ...

class _GivensL1Descent(_GivensEngine[_T]):
    def __init__(self, u: NDArray[_T], threads: int) -> None: ...
    @property
    def threads(self) -> int: ...
    def l1_norm(self) -> float: ...
    def set_layered(self, on: bool) -> None: ...
    @property
    def depth(self) -> int: ...

class GivensL1Descent32(_GivensL1Descent[np.float32]): ...
class GivensL1Descent64(_GivensL1Descent[np.float64]): ...

class GivensFrobeniusGreedy32(_GivensEngine[np.float32]):
    def __init__(self, u: NDArray[np.float32]) -> None: ...

class GivensFrobeniusGreedy64(_GivensEngine[np.float64]):
    def __init__(self, u: NDArray[np.float64]) -> None: ...

class GivensElimination32(_GivensEngine[np.float32]):
    def __init__(self, u: NDArray[np.float32]) -> None: ...

class GivensElimination64(_GivensEngine[np.float64]):
    def __init__(self, u: NDArray[np.float64]) -> None: ...

class GivensJacobi32(_GivensEngine[np.float32]):
    def __init__(self, l: NDArray[np.float32]) -> None: ...  # noqa: E741 (the bound name)

class GivensJacobi64(_GivensEngine[np.float64]):
    def __init__(self, l: NDArray[np.float64]) -> None: ...  # noqa: E741 (the bound name)

# Beam search over the L1 descent: advance() takes up to max_steps steps of every beam;
# best_path() is the best beam's (i, j, theta, score) so far, matrix() its working matrix.
class _GivensBeam(Generic[_T]):
    def __init__(self, u: NDArray[_T], width: int, threads: int) -> None: ...
    def advance(self, max_steps: int) -> int: ...
    @property
    def converged(self) -> bool: ...
    @property
    def steps(self) -> int: ...
    def best_objective(self) -> float: ...
    def matrix(self) -> NDArray[_T]: ...
    def best_path(self) -> tuple[_IndexArray, _IndexArray, NDArray[_T], NDArray[np.float64]]: ...

class GivensBeamL132(_GivensBeam[np.float32]): ...
class GivensBeamL164(_GivensBeam[np.float64]): ...

# --- tv and tridiagonal ------------------------------------------------------------------
# x, y, grad_*: (batch, n) rows; lam: float64 of shape (1,) (shared) or (batch,).
def tv_denoise(x: _FloatArray, lam: NDArray[np.float64], y: _FloatArray, /) -> None: ...
def tv_denoise_irls(
    x: _FloatArray,
    lam: NDArray[np.float64],
    tol: float,
    max_iter: int,
    y: _FloatArray,
    nit: _IndexArray,
    change: NDArray[np.float64],
    /,
) -> None: ...
def tv_denoise_vjp(
    y: _FloatArray,
    grad_y: _FloatArray,
    rtol: float,
    grad_x: _FloatArray,
    grad_lam: NDArray[np.float64],
    /,
) -> None: ...
# One weight per edge: w float64 (1, n - 1) (shared) or (batch, n - 1); grad_w (batch, n - 1).
def tv_denoise_weighted(x: _FloatArray, w: NDArray[np.float64], y: _FloatArray, /) -> None: ...
def tv_denoise_irls_weighted(
    x: _FloatArray,
    w: NDArray[np.float64],
    tol: float,
    max_iter: int,
    y: _FloatArray,
    nit: _IndexArray,
    change: NDArray[np.float64],
    /,
) -> None: ...
def tv_denoise_vjp_weighted(
    y: _FloatArray,
    grad_y: _FloatArray,
    rtol: float,
    grad_x: _FloatArray,
    grad_w: NDArray[np.float64],
    /,
) -> None: ...

# Images x, y, grad_*: (batch, h, w); lam (1,) or (batch,); nit, gap, grad_lam (batch,).
def tv_denoise_2d(
    x: _FloatArray,
    lam: NDArray[np.float64],
    isotropic: bool,
    tol: float,
    max_iter: int,
    y: _FloatArray,
    nit: _IndexArray,
    gap: NDArray[np.float64],
    /,
) -> None: ...
def tv_denoise_2d_vjp(
    y: _FloatArray,
    grad_y: _FloatArray,
    rtol: float,
    grad_x: _FloatArray,
    grad_lam: NDArray[np.float64],
    /,
) -> None: ...

# Each operand (1, n) (shared) or (batch, n); returns (number of singular systems, index of
# the first one or -1).
def tridiagonal_solve(
    lower: _FloatArray,
    diag: _FloatArray,
    upper: _FloatArray,
    rhs: _FloatArray,
    x: _FloatArray,
    /,
) -> tuple[int, int]: ...

# --- ot ----------------------------------------------------------------------------------
class SinkhornMethod(_Enum):  # SinkhornMethod in cpp/include/optkern/ot.hpp
    auto: ClassVar[SinkhornMethod]
    plain: ClassVar[SinkhornMethod]
    log: ClassVar[SinkhornMethod]
    __members__: ClassVar[dict[str, SinkhornMethod]]

class PointsCost(_Enum):  # cpp/include/optkern/ot/points.hpp
    sqeuclidean: ClassVar[PointsCost]
    euclidean: ClassVar[PointsCost]
    __members__: ClassVar[dict[str, PointsCost]]

class UnbalancedRegType(_Enum):  # cpp/include/optkern/ot/unbalanced.hpp
    kl: ClassVar[UnbalancedRegType]
    entropy: ClassVar[UnbalancedRegType]
    __members__: ClassVar[dict[str, UnbalancedRegType]]

# Per problem: (n_iter, marginal_error, cost, value, converged, method used: 1 plain, 2 log).
_SinkhornStats = tuple[
    NDArray[np.int64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.bool_],
    NDArray[np.int64],
]

# M: (1 or B, m, n), a: (1 or B, m), b: (1 or B, n), init_g: None or (1 or B, n); plan, f, g
# preallocated (B, m, n), (B, m), (B, n).
def sinkhorn(
    M: _FloatArray,
    a: _FloatArray,
    b: _FloatArray,
    init_g: _FloatArray | None,
    reg: float,
    tol: float,
    max_iter: int,
    check_every: int,
    method: SinkhornMethod,
    num_threads: int,
    plan: _FloatArray,
    f: _FloatArray,
    g: _FloatArray,
    /,
) -> _SinkhornStats: ...

# Returns each problem's status: 0 solved, 1 singular KKT system.
def sinkhorn_vjp(
    P: _FloatArray,
    grad_P: _FloatArray,
    reg: float,
    num_threads: int,
    grad_M: _FloatArray,
    grad_a: _FloatArray,
    grad_b: _FloatArray,
    /,
) -> NDArray[np.int8]: ...

# Unbalanced Sinkhorn (issue 16). M: (1 or B, m, n), a: (1 or B, m), b: (1 or B, n); plan
# (B, m, n) of M's dtype, F (B, m), G (B, n) float64.
# Returns (n_iter, last step, converged, the SinkhornMethod value that ran) per problem.
def sinkhorn_unbalanced(
    M: _FloatArray,
    a: _FloatArray,
    b: _FloatArray,
    reg: float,
    rho_a: float,
    rho_b: float,
    reg_type: UnbalancedRegType,
    method: SinkhornMethod,
    tol: float,
    max_iter: int,
    num_threads: int,
    plan: _FloatArray,
    F: NDArray[np.float64],
    G: NDArray[np.float64],
    /,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.bool_], NDArray[np.int32]]: ...

# Point clouds, cost on the fly (issue 16). x (m, d), y (n, d), a (m), b (n) of one dtype;
# init_g None or (n,) float64; f (m), g (n) float64.
# Returns (n_iter, marginal_error, cost, value, converged).
def sinkhorn_points(
    x: _FloatArray,
    y: _FloatArray,
    a: _FloatArray,
    b: _FloatArray,
    init_g: NDArray[np.float64] | None,
    reg: float,
    cost: PointsCost,
    tol: float,
    max_iter: int,
    num_threads: int,
    f: NDArray[np.float64],
    g: NDArray[np.float64],
    /,
) -> tuple[int, float, float, float, bool]: ...

# out (m,) = P v for v (n,) (float64); P^T u: swap (x, f) with (y, g).
def sinkhorn_points_apply(
    x: _FloatArray,
    y: _FloatArray,
    f: NDArray[np.float64],
    g: NDArray[np.float64],
    reg: float,
    cost: PointsCost,
    v: NDArray[np.float64],
    out: NDArray[np.float64],
    num_threads: int,
    /,
) -> None: ...

# --- optimize ----------------------------------------------------------------------------
# `options`: the settings of the run, filled by python/optkern/optimize/_checks.py
# (to_settings). `kind` is a ProblemKind (python/optkern/optimize/problems.py, _KINDS).
class OptimizeMethod(_Enum):  # Method in cpp/include/optkern/optimize/minimize.hpp
    lbfgs: ClassVar[OptimizeMethod]
    bfgs: ClassVar[OptimizeMethod]
    newton: ClassVar[OptimizeMethod]
    gd: ClassVar[OptimizeMethod]
    __members__: ClassVar[dict[str, OptimizeMethod]]

class OptimizeSettings:  # optimize::Settings, with the bounds and whether to return history
    def __init__(self) -> None: ...
    @property
    def method(self) -> OptimizeMethod: ...
    @method.setter
    def method(self, value: OptimizeMethod) -> None: ...
    @property
    def gtol(self) -> float: ...
    @gtol.setter
    def gtol(self, value: float) -> None: ...
    @property
    def ftol(self) -> float: ...
    @ftol.setter
    def ftol(self, value: float) -> None: ...
    @property
    def max_iter(self) -> int: ...
    @max_iter.setter
    def max_iter(self, value: int) -> None: ...
    @property
    def max_fev(self) -> int: ...
    @max_fev.setter
    def max_fev(self, value: int) -> None: ...
    @property
    def m(self) -> int: ...
    @m.setter
    def m(self, value: int) -> None: ...
    @property
    def c1(self) -> float: ...
    @c1.setter
    def c1(self, value: float) -> None: ...
    @property
    def c2(self) -> float: ...
    @c2.setter
    def c2(self, value: float) -> None: ...
    @property
    def max_ls(self) -> int: ...
    @max_ls.setter
    def max_ls(self, value: int) -> None: ...
    @property
    def alpha0(self) -> float: ...
    @alpha0.setter
    def alpha0(self, value: float) -> None: ...
    @property
    def tau(self) -> float: ...
    @tau.setter
    def tau(self, value: float) -> None: ...
    @property
    def eig_floor(self) -> float: ...
    @eig_floor.setter
    def eig_floor(self, value: float) -> None: ...
    @property
    def bfgs_hessian_start(self) -> bool: ...
    @bfgs_hessian_start.setter
    def bfgs_hessian_start(self, value: bool) -> None: ...
    # return the final inverse Hessian approximation (L-BFGS, BFGS)
    @property
    def history(self) -> bool: ...
    @history.setter
    def history(self, value: bool) -> None: ...
    # bounds: (n,), or (B, n) for the batch entry points; or None
    @property
    def lower(self) -> _FloatArray | None: ...
    @lower.setter
    def lower(self, value: _FloatArray | None) -> None: ...
    @property
    def upper(self) -> _FloatArray | None: ...
    @upper.setter
    def upper(self, value: _FloatArray | None) -> None: ...

class _Coercer(Protocol):
    """optkern.optimize._coerce.ObjectiveCoercer: converts what an objective returns or
    raises ValueError naming it."""

    def pair(self, result: Any) -> tuple[Any, Any]: ...
    def value(self, value: Any) -> Any: ...
    def gradient(self, value: Any) -> NDArray[Any]: ...
    def hessian(self, value: Any) -> NDArray[Any]: ...

# hook(x, f, g, nit, nfev, nhev) -> True to stop.
_Hook = Callable[[NDArray[Any], float, NDArray[Any], int, int, int], bool]
# (status, f, g, nit, nfev, nhev); x holds the solution on return.
# The last entry: the final inverse Hessian approximation when options.history is True
# ((s, y) pairs of L-BFGS, oldest first, or the n x n matrix of BFGS), else None.
_Summary = tuple[int, float, _FloatArray, int, int, int, Any]
# Per problem: (status, f, g, nit, nfev, nhev); x holds the solutions on return.
_BatchSummary = tuple[
    NDArray[np.int32], _FloatArray, _FloatArray, _IndexArray, _IndexArray, _IndexArray
]

def optimize_minimize(
    fun: Callable[[NDArray[Any]], Any],
    jac: Callable[[NDArray[Any]], Any] | None,
    hess: Callable[[NDArray[Any]], Any] | None,
    callback: _Hook | None,
    x: _FloatArray,
    options: OptimizeSettings,
    coerce: _Coercer,
    /,
) -> _Summary: ...
def optimize_minimize_problem(
    kind: int,
    parameter: float,
    x: _FloatArray,
    options: OptimizeSettings,
    callback: _Hook | None,
    /,
) -> _Summary: ...
def optimize_minimize_problem_batch(
    kind: int, parameter: float, x: _FloatArray, options: OptimizeSettings, threads: int, /
) -> _BatchSummary: ...
def optimize_minimize_batch(
    fun: Callable[[NDArray[Any]], Any],
    coerce: _Coercer,
    x: _FloatArray,
    options: OptimizeSettings,
    threads: int,
    /,
) -> _BatchSummary: ...
def optimize_status_message(status: int, /) -> str: ...

# f (the leading shape of x) and g (the shape of x) of a native problem at each row of x.
def optimize_problem_value_grad(
    kind: int, parameter: float, x: _FloatArray, /
) -> tuple[_FloatArray, _FloatArray]: ...
def optimize_problem_hessian(kind: int, parameter: float, x: _FloatArray, /) -> _FloatArray: ...
def optimize_problem_start(kind: int, parameter: float, n: int, /) -> NDArray[np.float64]: ...

# --- _testing: hooks into the core for optkern's own tests (not its API) ------------------
class _Testing:
    # (direction, path "cholesky" | "tridiagonal" | "eigen", eigenvalues floored); h is (n, n),
    # or the diagonal then the off-diagonal (2n - 1) when tridiagonal.
    @staticmethod
    def optimize_modified_newton_step(
        h: NDArray[np.float64], g: NDArray[np.float64], floor: float, tridiagonal: bool, /
    ) -> tuple[NDArray[np.float64], str, int]: ...
    # (decrease, tangent) of the best rotation of rows a and b in the L1 norm.
    @overload
    @staticmethod
    def givens_best_l1_rotation(
        a: NDArray[np.float32], b: NDArray[np.float32]
    ) -> tuple[float, float]: ...
    @overload
    @staticmethod
    def givens_best_l1_rotation(
        a: NDArray[np.float64], b: NDArray[np.float64]
    ) -> tuple[float, float]: ...

_testing: type[_Testing]
