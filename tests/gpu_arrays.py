"""GPU arrays for the CUDA tests of every area: which of torch and CuPy can hold them here,
and the copies to and from the device."""

import numpy as np


def gpu_libraries():
    libs = []
    try:
        import torch

        if torch.cuda.is_available():
            libs.append("torch")
    except ImportError:
        pass
    try:
        import cupy  # noqa: F401

        libs.append("cupy")
    except ImportError:
        pass
    return libs


def to_gpu(x, lib):
    if lib == "torch":
        import torch

        return torch.from_numpy(np.ascontiguousarray(x)).cuda()
    import cupy

    return cupy.asarray(x)


def to_host(x):
    if isinstance(x, (np.ndarray, np.generic)):
        return x
    return x.cpu().numpy() if hasattr(x, "cpu") else x.get()


def data_ptr(x):
    return x.data_ptr() if hasattr(x, "data_ptr") else x.data.ptr
