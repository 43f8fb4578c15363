"""Shared fixtures: dtypes with their tolerances, and the CUDA skip."""

import numpy as np
import pytest

import optkern

# Relative tolerances per dtype for results compared against the float64 references.
RTOL = {np.float32: 2e-5, np.float64: 1e-12}


def pytest_collection_modifyitems(config, items):
    if optkern.cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (optkern.cuda_available() is False)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request):
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(20261126)
