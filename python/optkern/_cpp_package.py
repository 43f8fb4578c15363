"""Where a wheel keeps optkern's C++ package (headers, the static optkern::core library and
optkernConfig.cmake): inside the Python package, like pybind11 does."""

from __future__ import annotations

from pathlib import Path

from optkern import _docs

__all__ = ["cmake_dir", "include_dir"]

_ROOT = Path(__file__).resolve().parent

# What both functions raise (optkern._docs fills it into their docstrings).
_installed_only = _docs.fill(raises_no_cpp_package="""
    Raises
    ------
    FileNotFoundError
        When this installation has no C++ package (an editable install).""")


def _existing(path: Path, what: str) -> str:
    if not path.exists():
        raise FileNotFoundError(
            f"this installation of optkern carries no C++ {what} at {path} (an editable or "
            "source-tree install); install the wheel, or use the prefix of `cmake --install`")
    return str(path)


@_installed_only
def cmake_dir() -> str:
    """The folder holding ``optkernConfig.cmake``, for ``find_package(optkern)``.

    Pass it to CMake as ``-Doptkern_DIR=...`` (or put ``python -m optkern --cmakedir`` there).
    In a scikit-build-core project ``find_package(optkern)`` needs no flag: optkern registers
    itself as a ``cmake.prefix`` entry point.

    Returns
    -------
    str
        ``site-packages/optkern/lib/cmake/optkern``.

    {raises_no_cpp_package}

    Examples
    --------
    >>> import os, optkern
    >>> try:
    ...     found = os.path.isfile(os.path.join(optkern.cmake_dir(), "optkernConfig.cmake"))
    ... except FileNotFoundError:  # an editable install carries no C++ package
    ...     found = True
    >>> found
    True
    """
    return _existing(_ROOT / "lib" / "cmake" / "optkern", "package")


@_installed_only
def include_dir() -> str:
    """The folder holding optkern's public C++ headers (``optkern/optkern.hpp``).

    Returns
    -------
    str
        ``site-packages/optkern/include``.

    {raises_no_cpp_package}

    Examples
    --------
    >>> import optkern
    >>> try:
    ...     headers = optkern.include_dir()
    ... except FileNotFoundError:  # an editable install carries no C++ package
    ...     headers = None
    >>> headers is None or headers.endswith("include")
    True
    """
    return _existing(_ROOT / "include", "headers")
