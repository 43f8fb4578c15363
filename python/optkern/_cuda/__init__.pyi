# Stub of the compiled CUDA module (python/bindings/cuda). Internal: use the optkern package.
#
# The module holds the device, memory and stream functions and one submodule per area,
# _cuda.<area> (python/bindings/cuda/bind_<area>.cpp), each stubbed in <area>.pyi here. This
# directory is a stub package only: it has no __init__.py, so `import optkern._cuda` still
# loads the extension module beside it.
#
# Arrays arrive as device pointers (ints) with their sizes and strides in elements, as
# python/optkern/_gpu.py reads them from DLPack; `stream` is a cudaStream_t as an int (0: the
# legacy default stream) and `dtype` is the NumPy type character, "f" or "d". Functions bound
# without py::arg names take positional arguments only. tests/packaging/test_stubs.py checks
# these stubs against the module's signatures.
from typing import Any, TypedDict

from numpy.typing import NDArray

from . import givens as givens
from . import linalg as linalg
from . import optimize as optimize
from . import ot as ot
from . import tv as tv

class CudaError(RuntimeError):
    """A CUDA runtime error, with cudaGetErrorString's text."""

class _DeviceInfo(TypedDict):
    index: int
    name: str
    compute_capability: tuple[int, int]
    total_memory: int  # bytes
    multiprocessors: int

def devices() -> list[_DeviceInfo]: ...  # empty without a driver or a device
def driver_status() -> str: ...
def runtime_version() -> int: ...
def malloc(nbytes: int, /) -> int: ...
def free(ptr: int, /) -> None: ...
def copy_to_device(dst: int, src: NDArray[Any], stream: int, /) -> None: ...
def copy_to_host(dst: NDArray[Any], src: int, stream: int, /) -> None: ...
def stream_synchronize(stream: int, /) -> None: ...
