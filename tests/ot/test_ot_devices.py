"""device= and stream= of sinkhorn_unbalanced and sinkhorn_points on any machine: "auto" with
host arrays runs on the CPU, "cuda" without CUDA is the clear error every function gives, a
stream on the CPU is refused, and an unknown device is named. (Their CUDA results are
compared with the CPU's in test_sinkhorn_unbalanced_cuda.py and test_sinkhorn_points_cuda.py.)"""

import numpy as np
import pytest

import optkern
from optkern.ot import sinkhorn_points, sinkhorn_unbalanced

rng = np.random.default_rng(3)
M = rng.random((5, 4))
X, Y = rng.standard_normal((6, 2)), rng.standard_normal((5, 2))

CALLS = {
    "sinkhorn_unbalanced": lambda **kw: sinkhorn_unbalanced(M, reg=0.1, reg_m=1.0, **kw),
    "sinkhorn_points": lambda **kw: sinkhorn_points(X, Y, reg=0.5, **kw),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_auto_with_host_arrays_runs_on_the_cpu(name):
    auto, cpu = CALLS[name](device="auto"), CALLS[name]()
    np.testing.assert_array_equal(auto.f, cpu.f)
    np.testing.assert_array_equal(auto.g, cpu.g)
    assert auto.n_iter == cpu.n_iter and auto.value == cpu.value


@pytest.mark.parametrize("name", sorted(CALLS))
def test_cuda_device_without_cuda_is_a_clear_error(name):
    if optkern.cuda_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="^device: 'cuda' was requested but CUDA is not "
                                         "available here"):
        CALLS[name](device="cuda")


@pytest.mark.parametrize("name", sorted(CALLS))
def test_stream_and_device_are_checked(name):
    with pytest.raises(ValueError, match="^stream:"):
        CALLS[name](stream=1)
    with pytest.raises(ValueError, match="^device:"):
        CALLS[name](device="gpu")
