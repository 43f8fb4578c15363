"""The hand-written stubs of the compiled modules (python/optkern/_core.pyi, _cuda.pyi) match
what the modules export, so that mypy and IDEs see the real signatures.

A stub drifts when a binding is added, removed or renamed, or gains or loses an argument:
each such change fails here. Names come from the module itself; parameter names from the
signature line pybind11 writes at the top of every ``__doc__``
(``name(arg: type, ...) -> ret``, or numbered lines for overloads). Arguments bound without
``py::arg`` are called arg0, arg1, ... and can only be passed by position, so the stub must
declare them positional-only (before ``/``).
"""

from __future__ import annotations

import ast
import importlib
import re
import runpy
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import optkern
from optkern import _backend

MODULES = ["optkern._core"] + (["optkern._cuda"] if _backend._cuda is not None else [])


# --- the runtime side: pybind11 signature lines ----------------------------------------------
@dataclass(frozen=True)
class Signature:
    params: tuple[str, ...]  # without self
    returns: str


def split_top_level(text: str) -> list[str]:
    """Split at commas outside brackets and quotes (types like tuple[int, int] nest)."""
    parts, depth, quote, start = [], 0, "", 0
    for k, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:k])
            start = k + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def parse_signature_line(line: str, name: str) -> Signature:
    match = re.match(rf"^(?:\d+\. )?{re.escape(name)}\((.*)\) -> (.+)$", line.strip())
    assert match, f"{name}: no pybind11 signature line in {line!r}"
    params = [p.split(":")[0].split("=")[0].strip() for p in split_top_level(match.group(1))]
    return Signature(tuple(p for p in params if p != "self"), match.group(2).strip())


def runtime_signatures(obj: object, name: str) -> list[Signature]:
    """One Signature, or one per overload in pybind11's numbered list."""
    doc = obj.__doc__ or ""
    lines = doc.strip().splitlines()
    assert lines, f"{name}: no __doc__ to read the signature from"
    if lines[0].strip() == f"{name}(*args, **kwargs)":
        numbered = [ln for ln in lines if re.match(rf"^\d+\. {re.escape(name)}\(", ln.strip())]
        assert numbered, f"{name}: overloaded, but no numbered signatures in __doc__"
        return [parse_signature_line(ln, name) for ln in numbered]
    return [parse_signature_line(lines[0], name)]


def runtime_members(module) -> dict[str, object]:
    return {n: getattr(module, n) for n in dir(module) if not n.startswith("_")}


def class_members(cls: type) -> dict[str, object]:
    """The class's own public members, and __init__ where the binding defines one."""
    return {n: v for n, v in vars(cls).items() if not n.startswith("_") or n == "__init__"}


# --- the stub side: the .pyi parsed with ast -------------------------------------------------
@dataclass(frozen=True)
class StubFunction:
    node: ast.FunctionDef

    @property
    def decorators(self) -> set[str]:
        return {ast.unparse(d) for d in self.node.decorator_list}

    def params(self, method: bool) -> list[tuple[str, bool, ast.expr | None]]:
        """(name, positional-only, annotation) of each parameter, without self."""
        a = self.node.args
        out = [(p.arg, True, p.annotation) for p in a.posonlyargs]
        out += [(p.arg, False, p.annotation) for p in a.args]
        out += [(p.arg, False, p.annotation) for p in a.kwonlyargs]
        for star in (a.vararg, a.kwarg):
            if star is not None:
                out.append(("*" + star.arg, False, star.annotation))
        return out[1:] if method else out


def public(name: str) -> bool:
    return not name.startswith("_")


def stub_path(module_name: str) -> Path:
    module = importlib.import_module(module_name)
    path = Path(module.__file__).with_name(module_name.rsplit(".", 1)[1] + ".pyi")
    assert path.exists(), f"{module_name}: no stub next to {module.__file__}"
    return path


def stub_members(body: list[ast.stmt]) -> dict[str, object]:
    """name -> list of StubFunction (overloads), ast.ClassDef, or "value"."""
    out: dict[str, object] = {}
    for node in body:
        if isinstance(node, ast.FunctionDef):
            out.setdefault(node.name, []).append(StubFunction(node))
        elif isinstance(node, ast.ClassDef):
            out[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = "value"
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = "value"
    return out


def stub_tree(module_name: str) -> ast.Module:
    return ast.parse(stub_path(module_name).read_text(), filename=str(stub_path(module_name)))


def stub_classes() -> dict[str, ast.ClassDef]:
    """Every class of the stubs by name, private bases included (_cuda.pyi imports
    _GivensEngine from _core.pyi)."""
    out = {}
    for module_name in ("optkern._core", "optkern._cuda"):
        if module_name in MODULES:
            out.update((n.name, n) for n in stub_tree(module_name).body
                       if isinstance(n, ast.ClassDef))
    return out


def stub_class_members(node: ast.ClassDef) -> dict[str, object]:
    """The class's stub members, with those it inherits from classes of the stubs (a generic
    base ``_Base[np.float32]`` included)."""
    members: dict[str, object] = {}
    for base in node.bases:
        target = base.value if isinstance(base, ast.Subscript) else base
        if isinstance(target, ast.Name) and target.id in stub_classes():
            members.update(stub_class_members(stub_classes()[target.id]))
    members.update(stub_members(node.body))
    return members


# --- comparing them ---------------------------------------------------------------------------
def check_function(qualname: str, runtime: list[Signature], stub: list[StubFunction],
                   method: bool) -> None:
    overloaded = len(runtime) > 1
    if overloaded:
        assert all("overload" in s.decorators for s in stub), \
            f"{qualname}: overloaded in the binding, so every stub needs @overload"
    assert len(stub) == len(runtime), (
        f"{qualname}: {len(runtime)} signature(s) in the binding, {len(stub)} in the stub")
    for k, (rt, st) in enumerate(zip(runtime, stub)):
        where = f"{qualname} (overload {k + 1})" if overloaded else qualname
        params = st.params(method)
        names = [p[0] for p in params]
        assert len(names) == len(rt.params), (
            f"{where}: the binding takes {list(rt.params)}, the stub {names}")
        for position, (bound, (name, posonly, annotation)) in enumerate(zip(rt.params, params)):
            if re.fullmatch(r"arg\d+", bound):
                assert posonly, (f"{where}: argument {position} has no py::arg name ({bound}), "
                                 f"so the stub's {name!r} must be positional-only (before /)")
            else:
                assert name == bound and not posonly, (
                    f"{where}: argument {position} is bound as {bound!r}, stub says {name!r}"
                    + (" (positional-only)" if posonly else ""))
            assert annotation is not None, f"{where}: parameter {name!r} has no type"
        assert st.node.returns is not None, f"{where}: no return type"
        stub_returns_none = ast.unparse(st.node.returns) == "None"
        assert stub_returns_none == (rt.returns == "None"), (
            f"{where}: the binding returns {rt.returns}, the stub {ast.unparse(st.node.returns)}")


def check_class(qualname: str, cls: type, node: ast.ClassDef) -> None:
    stub = stub_class_members(node)
    runtime = class_members(cls)
    stub_names = {n for n in stub if public(n) or n == "__init__"}
    if issubclass(cls, BaseException):  # a registered exception: no bound members
        runtime = {}
        stub_names = set()
    assert set(runtime) == stub_names, (
        f"{qualname}: the binding has {sorted(runtime)}, the stub {sorted(stub_names)}")
    for name, member in runtime.items():
        entry = stub[name]
        if isinstance(member, cls):  # a value of a bound enum (py::enum_)
            assert entry == "value", f"{qualname}.{name}: an enum value, not in the stub as one"
        elif isinstance(member, property):
            assert isinstance(entry, list) and "property" in entry[0].decorators, \
                f"{qualname}.{name}: a property in the binding, not in the stub"
            assert entry[0].node.returns is not None, f"{qualname}.{name}: no type"
        else:
            assert isinstance(entry, list), f"{qualname}.{name}: a method in the binding"
            check_function(f"{qualname}.{name}", runtime_signatures(member, name), entry,
                           method=True)


@pytest.mark.parametrize("module_name", MODULES)
def test_stub_declares_every_exported_name(module_name):
    module = importlib.import_module(module_name)
    runtime = set(runtime_members(module))
    stub = {n for n in stub_members(stub_tree(module_name).body) if public(n)}
    assert not runtime - stub, f"{module_name}: missing from the stub: {sorted(runtime - stub)}"
    assert not stub - runtime, f"{module_name}: not in the module: {sorted(stub - runtime)}"


@pytest.mark.parametrize("module_name", MODULES)
def test_stub_signatures_match_the_bindings(module_name):
    module = importlib.import_module(module_name)
    stub = stub_members(stub_tree(module_name).body)
    for name, obj in runtime_members(module).items():
        entry = stub.get(name)
        qualname = f"{module_name}.{name}"
        if isinstance(obj, type):
            assert isinstance(entry, ast.ClassDef), f"{qualname}: a class, not in the stub as one"
            check_class(qualname, obj, entry)
        elif callable(obj):
            assert isinstance(entry, list), f"{qualname}: a function, not in the stub as one"
            check_function(qualname, runtime_signatures(obj, name), entry, method=False)
        else:
            assert entry == "value", f"{qualname}: a value, not declared in the stub"


def test_testing_submodule_matches_its_stub():
    """_core._testing (test hooks, a submodule) against the stub's _Testing class."""
    module = importlib.import_module("optkern._core")._testing
    stub = stub_members(stub_classes()["_Testing"].body)
    runtime = runtime_members(module)
    assert set(runtime) == {n for n in stub if public(n)}
    for name, obj in runtime.items():
        check_function(f"optkern._core._testing.{name}", runtime_signatures(obj, name),
                       stub[name], method=False)


def test_signature_parser_reads_pybind11_lines():
    """The parser itself, on the shapes of line pybind11 writes (so the checks above cannot
    pass by reading nothing)."""
    sig = parse_signature_line(
        "tridiagonal_solve(arg0: str, arg1: typing.Annotated[collections.abc.Sequence["
        "tuple[int, int]], \"FixedSize(4)\"], x: int = 3) -> tuple[int, int]", "tridiagonal_solve")
    assert sig == Signature(("arg0", "arg1", "x"), "tuple[int, int]")
    overloaded = "f(*args, **kwargs)\nOverloaded function.\n\n1. f(a: int) -> None\n\n" \
                 "2. f(a: float, b: float) -> int\n"

    class Fake:
        __doc__ = overloaded

    assert runtime_signatures(Fake, "f") == [Signature(("a",), "None"),
                                             Signature(("a", "b"), "int")]
    method = "run(self: optkern._core.X, max_steps: int) -> int"
    assert parse_signature_line(method, "run").params == ("max_steps",)


def test_drift_is_detected():
    """A stub that renamed a bound keyword, lost a positional-only marker or dropped an
    overload fails the comparison."""
    good = Signature(("i", "j"), "None")

    def stub(source: str) -> list[StubFunction]:
        return [StubFunction(n) for n in ast.parse(source).body]

    check_function("f", [good], stub("def f(i: int, j: int) -> None: ..."), method=False)
    with pytest.raises(AssertionError, match="bound as 'j'"):
        check_function("f", [good], stub("def f(i: int, k: int) -> None: ..."), method=False)
    positional = Signature(("arg0",), "int")
    with pytest.raises(AssertionError, match="positional-only"):
        check_function("g", [positional], stub("def g(x: int) -> int: ..."), method=False)
    check_function("g", [positional], stub("def g(x: int, /) -> int: ..."), method=False)
    with pytest.raises(AssertionError, match="@overload"):
        check_function("f", [good, good], stub("def f(i: int, j: int) -> None: ..."),
                       method=False)
    overloads = stub("@overload\ndef f(i: int, j: int) -> None: ...")
    with pytest.raises(AssertionError, match="2 signature"):
        check_function("f", [good, good], overloads, method=False)
    with pytest.raises(AssertionError, match="returns"):
        check_function("f", [good], stub("def f(i: int, j: int) -> int: ..."), method=False)


def test_stubs_and_marker_are_installed():
    package = Path(optkern.__file__).parent
    assert (package / "py.typed").exists()
    for module_name in MODULES:
        stub_path(module_name)


# --- mypy: the stubs are what a type checker sees ---------------------------------------------
USAGE = Path(__file__).with_name("stubs_usage.py")

# Each line is a call the stubs must reject, with the error code mypy gives it.
MISUSE = {
    "_core.set_num_threads('4')": "arg-type",
    "_core.tridiagonal_solve(lower=a, diag=a, upper=a, rhs=a, x=a)": "call-arg",
    "_core.givens_apply(i, i, a, a, a, transpose=1.5, threads=0)": "call-overload",
    "_core.GivensL1Descent64(a, threads=1).l1_norm(3)": "call-arg",
    "s: str = _core.num_threads()": "assignment",
}


def run_mypy(path: Path, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--show-error-codes",
         "--cache-dir", str(cache), str(path)],
        capture_output=True, text=True, cwd=path.parent, timeout=300)


@pytest.fixture(scope="module")
def mypy_cache(request, tmp_path_factory):
    pytest.importorskip("mypy", reason="mypy is not installed (pip install mypy)")
    cache = getattr(request.config, "cache", None)  # None with -p no:cacheprovider
    return Path(cache.mkdir("mypy")) if cache is not None else tmp_path_factory.mktemp("mypy")


def test_typed_usage_runs():
    runpy.run_path(str(USAGE), run_name="__main__")


def test_mypy_strict_accepts_typed_usage(mypy_cache, tmp_path):
    work = tmp_path / "usage.py"
    shutil.copy(USAGE, work)  # outside the repository, so mypy reads the installed package
    out = run_mypy(work, mypy_cache)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_rejects_misuse(mypy_cache, tmp_path):
    lines = ["import numpy as np", "from optkern import _core",
             "a = np.zeros((2, 2))", "i = np.zeros(2, np.int64)"]
    first = len(lines) + 1
    lines += list(MISUSE)
    work = tmp_path / "misuse.py"
    work.write_text("\n".join(lines) + "\n")
    out = run_mypy(work, mypy_cache)
    errors = {}
    for line in out.stdout.splitlines():
        match = re.match(r".*misuse\.py:(\d+): error: .*\[([a-z-]+)\]$", line)
        if match:
            errors.setdefault(int(match.group(1)), set()).add(match.group(2))
    for k, (code, expected) in enumerate(MISUSE.items()):
        assert expected in errors.get(first + k, set()), (
            f"mypy did not flag {code!r} with [{expected}]:\n{out.stdout}{out.stderr}")
