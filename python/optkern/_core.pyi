# Stub of the compiled CPU module (python/bindings/core). Internal: use the optkern package.
from typing import Any, Sequence

import numpy as np

def build_info() -> dict[str, Any]: ...
def num_threads() -> int: ...
def set_num_threads(n: int) -> int: ...
def bmm(
    a: np.ndarray,
    b: np.ndarray,
    out: np.ndarray,
    extents: Sequence[int],
    a_batch_strides: Sequence[int],
    b_batch_strides: Sequence[int],
    c_batch_strides: Sequence[int],
) -> None: ...
def bmm_same_batch(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None: ...
