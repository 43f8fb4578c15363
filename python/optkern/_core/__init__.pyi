# Stub of the compiled CPU module (python/bindings/core). Internal: use the optkern package.
#
# The module holds what concerns all of it (build_info, the thread count) and one submodule
# per area, _core.<area> (python/bindings/core/bind_<area>.cpp), each stubbed in <area>.pyi
# here; _core._testing holds test hooks. This directory is a stub package only: it has no
# __init__.py, so `import optkern._core` still loads the extension module beside it.
#
# Functions bound without py::arg names take positional arguments only (pybind11 calls them
# arg0, arg1, ...): their parameters end with "/" and carry the names of the C++ source.
# The Python side (python/optkern/) has already validated everything: arrays arrive
# C-contiguous in the dtype of the call, and output arrays are preallocated and written in
# place. tests/packaging/test_stubs.py checks these stubs against the module's signatures.
from typing import Any, ClassVar, TypedDict, TypeVar

import numpy as np
from numpy.typing import NDArray

from . import _testing as _testing
from . import givens as givens
from . import linalg as linalg
from . import optimize as optimize
from . import ot as ot
from . import tv as tv

# The float dtypes the kernels are compiled for. A binding overloaded once per dtype (pybind11's
# numbered signatures, identical but for the dtype) has one stub signature generic in _F.
_F = TypeVar("_F", np.float32, np.float64)
# An array of the call's float dtype, for bindings that dispatch on it at run time.
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

# The base of the core's C++ enums, bound by name (python/optkern passes these, never bare
# integers); each area's enums are in its submodule.
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
