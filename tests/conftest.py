"""Shared fixtures: dtypes with their tolerances, the CUDA skip, the hypothesis profiles
and a watchdog against hangs."""

import faulthandler
import os
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, settings

import optkern


class PerDtype(dict):
    """A value per floating dtype, indexed by the dtype in any spelling (np.float32, a dtype, an
    array's .dtype, "float32")."""

    def __getitem__(self, dtype):
        return super().__getitem__(np.dtype(dtype).type)


def per_dtype(float32, float64):
    return PerDtype({np.float32: float32, np.float64: float64})


# The tolerances of the tests' comparisons, per dtype of the result (relative to the result's
# scale unless a test scales them otherwise). A tol= passed to optkern is the algorithm's own,
# not one of these.
# A finite computation (a solve, a transform, a backward pass, an objective and its gradient)
# against its float64 NumPy reference, or the same computation on two paths.
EXACT = per_dtype(1e-5, 1e-12)
# A product or a sum of many terms (bmm's k terms per element, a transform of many rotations)
# against its float64 reference.
PRODUCT = per_dtype(2e-5, 1e-12)
# Rounding accumulated over many dependent steps (a long recurrence, a long sequence of
# rotations, the objective along an optimizer's path) against float64.
ACCUMULATED = per_dtype(1e-4, 1e-10)
# The entries (at most 1 in size) of an orthogonal matrix made of rotations, against float64.
ORTHOGONAL = per_dtype(1e-5, 1e-13)
# An iterative solver stopped at its tolerance, against the reference solution.
CONVERGED = per_dtype(1e-5, 1e-9)
# The unit roundoff, for bounds the tests derive from the algorithm (a multiple of EPS * scale).
EPS = per_dtype(float(np.finfo(np.float32).eps), float(np.finfo(np.float64).eps))
# One computation on two paths (the CPU and a GPU, chunked and whole): summation orders and
# fused multiply-adds differ, and an iterative solver may stop at another iterate within its
# tolerance.
DEVICES = per_dtype(1e-4, 1e-8)
# A solve whose rounding the condition number amplifies (pivots down to 1e-6 of the diagonal,
# a KKT system with a wide range of plan entries), on two paths or against a dense reference.
ILL_CONDITIONED = per_dtype(1e-3, 1e-8)
# An approximate solver's point (IRLS, an optimizer's x) against the exact one: its stopping
# rule bounds the objective or the gradient, and the point follows only through the
# conditioning (about the square root of the objective's accuracy).
APPROXIMATE = per_dtype(1e-2, 1e-4)


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


@pytest.fixture
def threads():
    """optkern.set_num_threads inside a test; the previous setting is restored after it."""
    old = optkern.get_num_threads()
    yield optkern.set_num_threads
    optkern.set_num_threads(old)


# Hypothesis profiles. "optkern" (the default, what CI runs) keeps the fuzz suites
# (tests/fuzz/test_fuzz_*.py) to 20-35 s on 2 cores; OPTKERN_FUZZ_EXAMPLES sets the examples
# per test. HYPOTHESIS_PROFILE=thorough runs 20 times more and keeps a database of
# failures in .hypothesis/. The deadline fails an example that takes seconds (a near-hang);
# the watchdog below ends a real hang.
FUZZ_EXAMPLES = int(os.environ.get("OPTKERN_FUZZ_EXAMPLES", "100"))
_SLOW_DATA = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
_PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink]
settings.register_profile("optkern", max_examples=FUZZ_EXAMPLES,
                          deadline=timedelta(seconds=5), database=None, print_blob=True,
                          suppress_health_check=_SLOW_DATA, phases=_PHASES)
settings.register_profile("thorough", max_examples=20 * FUZZ_EXAMPLES,
                          deadline=timedelta(seconds=5), print_blob=True,
                          suppress_health_check=_SLOW_DATA, phases=_PHASES)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "optkern"))

WATCHDOG_SECONDS = float(os.environ.get("OPTKERN_WATCHDOG_SECONDS", "600"))
_REAL_STDERR = [2]


def pytest_configure(config):
    # a descriptor of the terminal's stderr, which pytest's capture does not swallow
    _REAL_STDERR[0] = os.dup(2)


@pytest.fixture
def watchdog():
    """Dump every thread's stack and end the run if the test hangs: a hang must fail CI
    loudly instead of stalling it (pytest-timeout is not a dependency)."""
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True, file=_REAL_STDERR[0])
    yield
    faulthandler.cancel_dump_traceback_later()
