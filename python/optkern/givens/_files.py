"""Reading and writing GivensSequence files: strict .npz parsing that never trusts the file.

A file is read only if it is a regular file (a FIFO or a device would block or never end),
every array header is parsed before anything is allocated, and an array is allocated only
from the bytes actually read (a header declaring 2**40 entries costs nothing). Every way a
file can be malformed ends in a ValueError naming ``path``; OSError is left for I/O.
"""

from __future__ import annotations

import errno
import math
import os
import stat
import struct
import zipfile
import zlib
from typing import Any, BinaryIO

import numpy as np

from optkern._validation import fail

__all__ = ["read_npz", "check_path"]

EXPECTED = "an .npz file written by GivensSequence.save"

# Errors that mean "this is not a well-formed file", whatever the library raising them
_MALFORMED = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, KeyError, TypeError,
              NotImplementedError, RuntimeError, OverflowError, struct.error, IndexError,
              SyntaxError, UnicodeDecodeError)


def check_path(path: Any) -> str | bytes:
    """A str, bytes or os.PathLike path, as os.fspath gives it; a ValueError otherwise."""
    if isinstance(path, (str, bytes)):
        if ("\0" if isinstance(path, str) else b"\0") in path:
            fail("path", "a file name without NUL characters", repr(path))
        return path
    if isinstance(path, os.PathLike):
        try:
            value = os.fspath(path)
        except TypeError as exc:
            fail("path", "a str or os.PathLike file name", f"{type(path).__name__} ({exc})")
        if isinstance(value, (str, bytes)):
            return check_path(value)
    fail("path", "a str or os.PathLike file name", repr(path) if path is None
         else type(path).__name__)
    raise AssertionError  # unreachable


def _open_regular(path: str | bytes, shown: str) -> BinaryIO:
    # O_NONBLOCK: opening a FIFO without a writer returns at once instead of blocking; the
    # fstat on the open descriptor then rejects it (no race between a check and the open).
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                    else "a device or socket")
            fail("path", f"{EXPECTED} (a regular file)", f"{shown}, {kind}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_member(archive: zipfile.ZipFile, name: str) -> np.ndarray:
    info = archive.getinfo(name)
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f"unsupported .npy version {version}")
        if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None:
            raise ValueError(f"array {name[:-4]!r} has dtype {dtype}, not numbers")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        # what the member itself says it holds bounds what may be read
        if nbytes > info.file_size:
            raise ValueError(f"array {name[:-4]!r} declares {count} entries, more than the "
                             f"file holds")
        data = member.read(nbytes)  # grows with the bytes actually there
        if len(data) != nbytes:
            raise ValueError(f"array {name[:-4]!r} is truncated")
    arr = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return arr.astype(dtype.newbyteorder("="), copy=True)


def read_npz(path: Any, required: tuple[str, ...],
             optional: tuple[str, ...] = ()) -> dict[str, np.ndarray | None]:
    """The named arrays of an .npz file; a ValueError naming path for any malformed file."""
    fspath = check_path(path)
    shown = repr(os.fsdecode(fspath))
    with _open_regular(fspath, shown) as handle:
        try:
            with zipfile.ZipFile(handle) as archive:
                names = set(archive.namelist())
                missing = [key for key in required if key + ".npy" not in names]
                if missing:
                    fail("path", EXPECTED, f"{shown}, a file without {sorted(missing)}")
                out: dict[str, np.ndarray | None] = {}
                for key in required + optional:
                    out[key] = (_read_member(archive, key + ".npy") if key + ".npy" in names
                                else None)
                return out
        except OSError as exc:
            if exc.errno in (errno.EIO, errno.ENOSPC, errno.EACCES, errno.ESTALE):
                raise
            fail("path", EXPECTED, f"{shown} ({type(exc).__name__}: {exc})")
        except _MALFORMED as exc:
            if isinstance(exc, ValueError) and str(exc).startswith("path: "):
                raise
            fail("path", EXPECTED, f"{shown} ({type(exc).__name__}: {exc})")
    raise AssertionError  # unreachable


def integer_field(value: np.ndarray | None, key: str, shown: str, *, ndim: int) -> np.ndarray:
    """An integer (not boolean) array of the given ndim from a file, else a ValueError."""
    assert value is not None
    if value.dtype.kind not in "iu" or value.ndim != ndim:
        what = "an integer scalar" if ndim == 0 else f"a {ndim}-dimensional integer array"
        fail("path", f"{EXPECTED} ({key!r}: {what})",
             f"{shown} with {key!r} of dtype {value.dtype} and shape {value.shape}")
    return value


def write_npz(path: Any, **arrays: np.ndarray) -> None:
    """np.savez to a regular file (".npz" appended to a name without it, as NumPy does)."""
    fspath = check_path(path)
    suffix: Any = b".npz" if isinstance(fspath, bytes) else ".npz"
    if not fspath.endswith(suffix):
        fspath = fspath + suffix
    shown = repr(os.fsdecode(fspath))
    # O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of blocking; anything that is
    # not a regular file is refused before a byte is written.
    flags = (os.O_WRONLY | os.O_CREAT | getattr(os, "O_NONBLOCK", 0)
             | getattr(os, "O_BINARY", 0))
    fd = os.open(fspath, flags, 0o666)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            fail("path", "a regular file to write", f"{shown}, not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        os.ftruncate(fd, 0)
        handle = os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        np.savez(handle, **arrays)
