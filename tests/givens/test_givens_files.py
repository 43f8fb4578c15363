"""GivensSequence files and sizes: strict load/save (issue 13, items 4, 9, 10 and 16)."""

import io
import os
import threading
import zipfile

import numpy as np
import pytest

from optkern.givens import GivensSequence


def _npy(arr=None, *, header=None, data=b""):
    """The bytes of an .npy member: of `arr`, or a hand-written header followed by `data`."""
    out = io.BytesIO()
    if arr is not None:
        np.lib.format.write_array(out, np.asarray(arr), allow_pickle=True)
    else:
        np.lib.format.write_array_header_1_0(out, header)
        out.write(data)
    return out.getvalue()


def _write(path, **members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name + ".npy", content if isinstance(content, bytes)
                             else _npy(content))
    return path


def _good(**overrides):
    fields = {"i": np.array([0, 1]), "j": np.array([2, 2]), "theta": np.array([0.5, -1.0]),
              "dim": np.int64(3)}
    fields.update(overrides)
    return fields


def test_good_file_reads(tmp_path):
    seq = GivensSequence.load(_write(tmp_path / "a.npz", **_good()))
    assert seq.dim == 3 and list(seq) == [(0, 2, 0.5), (1, 2, -1.0)]


@pytest.mark.parametrize(
    "dim",
    [np.float64(3.7), np.array("7"), np.bool_(True), np.float64(1e30),
     np.uint64(2**64 - 1), np.int64(0), np.int64(-3), np.array([3]), np.int64(2**40)],
    ids=["3.7", "'7'", "True", "1e30", "2**64-1", "0", "-3", "[3]", "2**40"],
)
def test_load_checks_the_type_and_range_of_dim(tmp_path, dim):
    path = _write(tmp_path / "a.npz", **_good(dim=dim))
    with pytest.raises(ValueError, match="^path: expected an .npz file written by"):
        GivensSequence.load(path)


@pytest.mark.parametrize(
    "overrides",
    [{"i": np.array([0.0, 1.0])}, {"j": np.array([True, True])}, {"i": np.array([[0, 1]])},
     {"theta": np.array([1, 2])}, {"theta": np.float16([0.5, 1.0])},
     {"theta": np.array([0.5, np.nan])}, {"theta": np.array(["a", "b"])},
     {"i": np.array([0, 1, 2])}, {"i": np.array([2, 1])},
     {"theta": np.array([{}, {}], dtype=object)},
     {"theta": np.zeros(2, dtype=[("a", "<f8")])}],
    ids=["float i", "bool j", "2-d i", "int theta", "float16 theta", "nan theta", "str theta",
         "lengths", "i >= j", "objects", "records"],
)
def test_load_checks_every_field(tmp_path, overrides):
    path = _write(tmp_path / "a.npz", **_good(**overrides))
    with pytest.raises(ValueError, match="^path: expected an .npz file written by"):
        GivensSequence.load(path)


def _malformed_files(tmp_path):
    good = tmp_path / "good.npz"
    GivensSequence([0, 1], [2, 2], [0.5, -1.0], dim=3).save(good)
    raw = good.read_bytes()
    files = {
        "empty": b"",
        "text": b"not a zip file at all\n" * 10,
        "truncated": raw[: len(raw) // 2],
        "tail cut": raw[:-10],
        "corrupt middle": raw[:100] + bytes(50) + raw[150:],
    }
    paths = {name: tmp_path / f"{name.replace(' ', '_')}.npz" for name in files}
    for name, content in files.items():
        paths[name].write_bytes(content)
    np.save(tmp_path / "single.npy", np.ones(3))
    paths["npy file"] = tmp_path / "single.npy"
    np.savez(tmp_path / "other.npz", x=np.ones(2))
    paths["other arrays"] = tmp_path / "other.npz"
    huge = {"descr": "<i8", "fortran_order": False, "shape": (2**40,)}
    paths["2**40 entries"] = _write(tmp_path / "huge.npz",
                                    **_good(i=_npy(header=huge, data=bytes(16))))
    wide = {"descr": "<f8", "fortran_order": False, "shape": (2**62, 2**62)}
    paths["2**124 entries"] = _write(tmp_path / "wide.npz",
                                     **_good(theta=_npy(header=wide, data=bytes(16))))
    short = {"descr": "<f8", "fortran_order": False, "shape": (2,)}
    paths["short data"] = _write(tmp_path / "short.npz",
                                 **_good(theta=_npy(header=short, data=bytes(8))))
    paths["bad magic"] = _write(tmp_path / "magic.npz", **_good(i=b"\x93NUMPX\x01\x00"))
    pickled = np.array([1, 2], dtype=object)
    paths["pickle"] = _write(tmp_path / "pickle.npz", **_good(i=pickled))
    return paths


def test_load_raises_value_error_for_any_malformed_file(tmp_path):
    for path in _malformed_files(tmp_path).values():
        with pytest.raises(ValueError, match="^path: expected an .npz file written by"):
            GivensSequence.load(path)
        with pytest.raises(ValueError, match="^path: expected"):
            GivensSequence.load(str(path).encode())  # bytes paths too


@pytest.mark.parametrize("path", [None, 3, 2.5, ["a.npz"], object(), "a\0b.npz", b"a\0.npz"])
def test_load_and_save_name_a_bad_path(path):
    with pytest.raises(ValueError, match="^path: expected a (str or os.PathLike|file name)"):
        GivensSequence.load(path)
    with pytest.raises(ValueError, match="^path: expected a (str or os.PathLike|file name)"):
        GivensSequence([0], [1], [0.5], dim=2).save(path)


def test_io_errors_stay_os_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        GivensSequence.load(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="a directory"):
        GivensSequence.load(tmp_path)
    with pytest.raises(OSError):
        GivensSequence([0], [1], [0.5], dim=2).save(tmp_path / "no" / "dir.npz")


def raised_within_10_s(what, action):
    """The exception action() raises, run in a thread that must end within 10 s."""
    outcome = []

    def run():
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - recorded for the assertion
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), f"{what} blocked on a FIFO"
    assert len(outcome) == 1, f"{what} on a FIFO raised nothing"
    return outcome[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    error = raised_within_10_s("load", lambda: GivensSequence.load(fifo))
    assert isinstance(error, ValueError)
    assert "FIFO" in str(error) and str(error).startswith("path: ")
    # no reader: save fails at once (ENXIO) instead of waiting for one
    error = raised_within_10_s("save", lambda: GivensSequence([0], [1], [0.5], dim=2).save(fifo))
    assert isinstance(error, OSError)


def test_save_appends_npz_and_round_trips_bytes_paths(tmp_path):
    seq = GivensSequence([0, 1], [2, 2], np.float32([0.5, -1.0]), dim=3)
    seq.save(str(tmp_path / "plain"))
    assert (tmp_path / "plain.npz").exists()
    back = GivensSequence.load(str(tmp_path / "plain.npz").encode())
    assert back.dtype == np.float32 and list(back) == list(seq)
    seq.save(tmp_path / "plain.npz")  # overwrite a longer file with a shorter one
    assert list(GivensSequence.load(tmp_path / "plain.npz")) == list(seq)


@pytest.mark.parametrize("dim", [2**62, 10**30, 2**29 + 1])
def test_dim_is_checked_at_construction(dim):
    with pytest.raises(ValueError, match=r"^dim: expected a positive integer <= 536870912"):
        GivensSequence([0], [1], [0.5], dim=dim)


def test_largest_dim_is_accepted():
    seq = GivensSequence([0], [2**29 - 1], [0.5], dim=2**29)
    assert seq.dim == 2**29 and len(seq) == 1
