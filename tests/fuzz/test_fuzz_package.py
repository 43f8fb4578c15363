"""Fuzzing the package-level functions (set_num_threads, get_num_threads, build_info,
cuda_available) and a check that the fuzz suites cover every public function."""

import inspect
import pathlib

import adversarial as adv
import pytest
from hypothesis import given
from hypothesis import strategies as st

import optkern

MAX_THREADS = 1024


@given(n=st.one_of(st.integers(-3, 8), st.sampled_from(
    list(adv.BAD_SCALARS) + [2.0, 2.5, 10**6, 2**31, 10**30, MAX_THREADS, MAX_THREADS + 1])))
def test_set_num_threads(n):
    old = optkern.get_num_threads()
    try:
        outcome = adv.call(optkern.set_num_threads, n, arguments=("n",))
        if isinstance(n, bool) or not adv.is_number(n) or not float(n).is_integer() \
                or n > MAX_THREADS:
            adv.expect_error(outcome, "n")
            assert optkern.get_num_threads() == old  # a rejected value changes nothing
            return
        assert adv.expect_ok(outcome) == old
        now = optkern.get_num_threads()
        assert now == int(n) if n >= 1 else now >= 1
        assert optkern.build_info()["num_threads"] == now
    finally:
        optkern.set_num_threads(old)


def test_package_queries():
    assert isinstance(optkern.cuda_available(), bool)
    info = optkern.build_info()
    assert info["version"] == optkern.__version__ and info["num_threads"] >= 1


def public_functions():
    """Every public function and class of optkern, by qualified name."""
    names = set()
    for area in ("linalg", "tv", "ot", "optimize", "givens"):
        module = getattr(optkern, area)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                names.add(f"{area}.{name}")
    names |= {f"optimize.problems.{name}" for name in optkern.optimize.problems.__all__
              if inspect.isfunction(getattr(optkern.optimize.problems, name))}
    names |= {name for name in optkern.__all__ if inspect.isfunction(getattr(optkern, name))}
    return names


# Public names that are results or records, not calls with inputs to fuzz.
NOT_CALLS = {"tv.DenoiseResult", "tv.Denoise2DResult", "ot.SinkhornResult",
             "ot.SinkhornBackwardError",
             "ot.PointsResult", "ot.UnbalancedResult", "optimize.OptimizeResult",
             "optimize.BatchResult", "givens.GivensStep"}


def test_every_public_function_is_fuzzed():
    """Each public function appears in a fuzz suite (by its name), so that a new function
    cannot be added without adversarial tests."""
    here = pathlib.Path(__file__).parent
    text = "".join(p.read_text() for p in here.glob("test_fuzz_*.py"))
    missing = []
    for qualified in sorted(public_functions() - NOT_CALLS):
        leaf = qualified.rsplit(".", 1)[-1]
        if qualified.startswith("optimize.problems.") and leaf in optkern.optimize.problems.ALL:
            leaf = "problems.ALL["  # every constructor is drawn from ALL
        if leaf not in text:
            missing.append(qualified)
    assert not missing, f"public functions without a fuzz test: {missing}"


@pytest.mark.parametrize("function", ["get_num_threads", "cuda_available", "build_info",
                                      "cmake_dir", "include_dir"])
def test_queries_take_no_arguments(function):
    with pytest.raises(TypeError):
        getattr(optkern, function)(1)


@pytest.mark.parametrize("function", ["cmake_dir", "include_dir"])
def test_cpp_package_folders_exist_or_say_why(function):
    try:
        path = getattr(optkern, function)()
    except FileNotFoundError as exc:  # an editable install carries no C++ package
        assert "no C++" in str(exc)
    else:
        assert pathlib.Path(path).is_dir()
