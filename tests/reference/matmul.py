"""Plain NumPy reference for batched matmul: broadcasting sums of products, no BLAS."""

import numpy as np


def bmm_reference(a, b):
    """(..., m, k) @ (..., k, n) in float64, as the definition: sum_k a[..., i, k] b[..., k, j]."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (a[..., :, :, None] * b[..., None, :, :]).sum(axis=-2)
