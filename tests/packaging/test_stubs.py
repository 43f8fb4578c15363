"""The hand-written stubs of the compiled modules match what the modules export, so that mypy
and IDEs see the real signatures. Each module is a stub package laid out as pybind11-stubgen
does it: python/optkern/_core/__init__.pyi for the module, and <area>.pyi beside it for each
submodule _core.<area> (likewise _cuda/), with no __init__.py, so that the extension module
beside the directory is what imports.

A stub drifts when a binding is added, removed or renamed, or gains or loses an argument:
each such change fails here. Names come from the module and its submodules themselves;
parameter names from the signature line pybind11 writes at the top of every ``__doc__``
(``name(arg: type, ...) -> ret``, or numbered lines for overloads). Arguments bound without
``py::arg`` are called arg0, arg1, ... and can only be passed by position, so the stub must
declare them positional-only (before ``/``). A binding overloaded once per float dtype (its
numbered signatures identical but for float32 / float64) has one stub signature generic in a
TypeVar constrained to those dtypes, used exactly where the overloads differ.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.machinery
import importlib.util
import re
import runpy
import shutil
import subprocess
import sys
import types
from dataclasses import dataclass, field
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
    types: tuple[str, ...] = field(default=(), compare=False)  # of the params, as written


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
    params, kinds = [], []
    for p in split_top_level(match.group(1)):
        name, _, kind = p.partition(":")
        name = name.split("=")[0].strip()
        if name != "self":
            params.append(name)
            kinds.append(kind.split("=")[0].strip())
    return Signature(tuple(params), match.group(2).strip(), tuple(kinds))


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
    """The public members, without the submodules (checked as modules of their own)."""
    return {n: getattr(module, n) for n in dir(module)
            if not n.startswith("_") and not isinstance(getattr(module, n), types.ModuleType)}


def runtime_submodules(module) -> dict[str, types.ModuleType]:
    """The submodules the binding defines (def_submodule), private ones (_testing) included."""
    out = {}
    for n in dir(module):
        value = getattr(module, n)
        if isinstance(value, types.ModuleType) and value.__name__ == f"{module.__name__}.{n}":
            out[n] = value
    return out


def all_modules() -> list[str]:
    """MODULES and, depth first, every submodule of theirs."""
    out = []

    def walk(name: str) -> None:
        out.append(name)
        for sub in runtime_submodules(importlib.import_module(name)):
            walk(f"{name}.{sub}")

    for name in MODULES:
        walk(name)
    return out


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
    """optkern/_core/__init__.pyi for optkern._core, optkern/_core/ot.pyi for optkern._core.ot:
    the stub package in the directories Python and type checkers search for optkern's modules
    (an installed wheel's one; an editable install's source directory too)."""
    top, *sub = module_name.split(".")[1:]
    name = (sub[0] if sub else "__init__") + ".pyi"
    for directory in optkern.__path__:
        if (Path(directory) / top / name).exists():
            return Path(directory) / top / name
    raise AssertionError(f"{module_name}: no stub {top}/{name} in {list(optkern.__path__)}")


def stub_members(body: list[ast.stmt]) -> dict[str, object]:
    """name -> list of StubFunction (overloads), ast.ClassDef, "value", or "module" (a
    submodule the package stub imports: ``from . import ot as ot``)."""
    out: dict[str, object] = {}
    for node in body:
        if isinstance(node, ast.ImportFrom) and node.module is None and node.level == 1:
            out.update((alias.asname or alias.name, "module") for alias in node.names)
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


@functools.cache
def stub_trees() -> list[ast.Module]:
    """Every stub file of the stub packages (_cuda's imports names from _core's)."""
    out = []
    for module_name in MODULES:
        package = stub_path(module_name).parent
        out += [ast.parse(p.read_text(), filename=str(p)) for p in sorted(package.glob("*.pyi"))]
    return out


def stub_classes() -> dict[str, ast.ClassDef]:
    """Every class of the stubs by name, private bases included (_cuda/givens.pyi imports
    _GivensEngine from _core/givens.pyi)."""
    return {n.name: n for tree in stub_trees() for n in tree.body if isinstance(n, ast.ClassDef)}


def dtype_typevars(trees: list[ast.Module]) -> set[str]:
    """The names of the TypeVars constrained to the kernels' float dtypes,
    ``_F = TypeVar("_F", np.float32, np.float64)``."""
    out = set()
    for tree in trees:
        for node in tree.body:
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                    and ast.unparse(node.value.func) == "TypeVar"
                    and sorted(ast.unparse(a) for a in node.value.args[1:])
                    == ["np.float32", "np.float64"]):
                out.update(t.id for t in node.targets if isinstance(t, ast.Name))
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
DTYPES = ("numpy.float32", "numpy.float64")


def dtype_variants(runtime: list[Signature]) -> tuple[set[int], bool] | None:
    """For overloads identical but for the float dtype, one each: the positions of the
    parameters whose type changes with it, and whether the return type does. Else None."""
    def written(sig: Signature) -> tuple[str, ...]:
        return (*sig.types, sig.returns)

    def blank(text: str) -> str:
        for dtype in DTYPES:
            text = re.sub(rf"\b{re.escape(dtype)}\b", "<float>", text)
        return text

    if len(runtime) != len(DTYPES) or len({sig.params for sig in runtime}) != 1:
        return None
    if len({tuple(blank(t) for t in written(sig)) for sig in runtime}) != 1:
        return None
    used = [{d for d in DTYPES for t in written(sig) if re.search(rf"\b{d}\b", t)}
            for sig in runtime]
    if sorted(map(sorted, used)) != [[d] for d in DTYPES]:  # float32 in one, float64 in other
        return None
    varying = {k for k, column in enumerate(zip(*(written(sig) for sig in runtime)))
               if len(set(column)) > 1}
    n = len(runtime[0].params)
    return {k for k in varying if k < n}, n in varying


def check_dtype_generic(qualname: str, runtime: list[Signature], stub: StubFunction,
                        method: bool, typevars: set[str]) -> None:
    """One stub signature generic in a dtype TypeVar for the runtime's per-dtype overloads."""
    variants = dtype_variants(runtime)
    assert variants is not None, (
        f"{qualname}: {len(runtime)} overloads in the binding that differ in more than the "
        f"float dtype, so the stub needs @overload for each")

    def generic(node: ast.expr | None) -> bool:
        return node is not None and any(isinstance(n, ast.Name) and n.id in typevars
                                        for n in ast.walk(node))

    positions, returns = variants
    check_function(qualname, runtime[:1], [stub], method, typevars)  # names, kinds, arity
    for k, (name, _, annotation) in enumerate(stub.params(method)):
        assert generic(annotation) == (k in positions), (
            f"{qualname}: parameter {name!r} " + (
                "changes dtype with the overload, so its type needs the dtype TypeVar"
                if k in positions else "has one dtype in every overload, but a dtype TypeVar"))
    assert generic(stub.node.returns) == returns, (
        f"{qualname}: the return type " + ("changes" if returns else "does not change")
        + " with the dtype; the stub's " + ("lacks" if returns else "has") + " the TypeVar")


def check_function(qualname: str, runtime: list[Signature], stub: list[StubFunction],
                   method: bool, typevars: set[str] = frozenset()) -> None:
    overloaded = len(runtime) > 1
    if overloaded and len(stub) == 1 and "overload" not in stub[0].decorators:
        if any(isinstance(n, ast.Name) and n.id in typevars for n in ast.walk(stub[0].node)):
            check_dtype_generic(qualname, runtime, stub[0], method, typevars)
            return
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
                           method=True, typevars=dtype_typevars(stub_trees()))


AREAS = {"linalg", "givens", "tv", "ot", "optimize"}


def test_every_area_is_a_submodule():
    """One submodule per area in each module, and _core's test hooks in _core._testing; what
    concerns the whole module (build info, threads, devices, memory) stays on it."""
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        assert set(runtime_submodules(module)) - {"_testing"} == AREAS, module_name
        assert not any(n.startswith(tuple(AREAS)) for n in runtime_members(module)), module_name
        for area in AREAS:  # importable by name (pickle finds an enum's class so)
            assert importlib.import_module(f"{module_name}.{area}") is getattr(module, area)
    assert "optkern._core._testing" in all_modules()


def check_names(module: types.ModuleType, members: dict[str, object]) -> None:
    """The module's public names and submodules are the stub's (members: stub_members)."""
    runtime = set(runtime_members(module))
    stub = {n for n, entry in members.items() if public(n) and entry != "module"}
    name = module.__name__
    assert not runtime - stub, f"{name}: missing from the stub: {sorted(runtime - stub)}"
    assert not stub - runtime, f"{name}: not in the module: {sorted(stub - runtime)}"
    submodules = {n for n, entry in members.items() if entry == "module"}
    assert submodules == set(runtime_submodules(module)), (
        f"{name}: submodules {sorted(runtime_submodules(module))}, the stub imports "
        f"{sorted(submodules)}")


@pytest.mark.parametrize("module_name", all_modules())
def test_stub_declares_every_exported_name(module_name):
    check_names(importlib.import_module(module_name),
                stub_members(stub_tree(module_name).body))


@pytest.mark.parametrize("module_name", all_modules())
def test_stub_signatures_match_the_bindings(module_name):
    module = importlib.import_module(module_name)
    stub = stub_members(stub_tree(module_name).body)
    typevars = dtype_typevars(stub_trees())
    for name, obj in runtime_members(module).items():
        entry = stub.get(name)
        qualname = f"{module_name}.{name}"
        if isinstance(obj, type):
            assert isinstance(entry, ast.ClassDef), f"{qualname}: a class, not in the stub as one"
            check_class(qualname, obj, entry)
        elif callable(obj):
            assert isinstance(entry, list), f"{qualname}: a function, not in the stub as one"
            check_function(qualname, runtime_signatures(obj, name), entry, method=False,
                           typevars=typevars)
        else:
            assert entry == "value", f"{qualname}: a value, not declared in the stub"


def test_stub_packages_leave_the_extension_modules_importable():
    """The stub packages hold .pyi files only, one per submodule: a directory without
    __init__.py loses to the extension module beside it, and where _cuda was not built, its
    stub package alone (found as a namespace package) is not taken for the module."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        assert module.__file__.endswith(suffixes), module.__file__
        package = stub_path(module_name).parent
        assert sorted(p.name for p in package.iterdir() if p.name != "__pycache__") == sorted(
            f"{n}.pyi" for n in ["__init__", *runtime_submodules(module)])
    if _backend._cuda is None:
        spec = importlib.util.find_spec("optkern._cuda")
        assert spec is None or spec.origin is None
        assert _backend._CUDA_IMPORT_ERROR is None


def test_signature_parser_reads_pybind11_lines():
    """The parser itself, on the shapes of line pybind11 writes (so the checks above cannot
    pass by reading nothing)."""
    sig = parse_signature_line(
        "tridiagonal_solve(arg0: str, arg1: typing.Annotated[collections.abc.Sequence["
        "tuple[int, int]], \"FixedSize(4)\"], x: int = 3) -> tuple[int, int]", "tridiagonal_solve")
    assert sig == Signature(("arg0", "arg1", "x"), "tuple[int, int]")
    assert sig.types == ("str", "typing.Annotated[collections.abc.Sequence[tuple[int, int]], "
                         "\"FixedSize(4)\"]", "int")
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


def test_names_and_submodules_drift_is_detected():
    """A binding added to or removed from a submodule, or a submodule the stub package does not
    import, fails the comparison of names."""
    module = types.ModuleType("optkern._fake")
    module.area = types.ModuleType("optkern._fake.area")
    module.top = lambda: None
    module.area.kernel = lambda: None
    package = stub_members(ast.parse("from . import area as area\ndef top() -> None: ...").body)
    area = stub_members(ast.parse("def kernel() -> None: ...").body)
    check_names(module, package)
    check_names(module.area, area)
    module.area.added = lambda: None
    with pytest.raises(AssertionError, match=r"missing from the stub: \['added'\]"):
        check_names(module.area, area)
    del module.area.added, module.area.kernel
    with pytest.raises(AssertionError, match=r"not in the module: \['kernel'\]"):
        check_names(module.area, area)
    with pytest.raises(AssertionError, match="submodules"):
        check_names(module, stub_members(ast.parse("def top() -> None: ...").body))


def test_dtype_generic_stub_stands_for_the_per_dtype_overloads():
    """One stub signature generic in a dtype TypeVar covers overloads that differ only in the
    float dtype, and nothing else: a binding that gains, loses or renames an argument, gains
    an overload or differs in more than the dtype still fails, as does a stub whose TypeVar
    is not exactly where the dtype changes."""
    declared = ast.parse('_F = TypeVar("_F", np.float32, np.float64)\n'
                         '_T = TypeVar("_T", int, str)\n_A = TypeVar("_A")')
    assert dtype_typevars([declared]) == {"_F"}
    typevars = {"_F"}

    def sig(dtype, *extra, name="x", returns="None"):
        array = f"numpy.typing.NDArray[numpy.{dtype}]"
        return Signature(("i", name, "threads", *extra), returns.format(array),
                         ("numpy.typing.NDArray[numpy.int64]", array, "int")
                         + ("int",) * len(extra))

    def check(runtime, source):
        check_function("f", runtime, [StubFunction(ast.parse(source).body[0])], method=False,
                       typevars=typevars)

    runtime = [sig("float32"), sig("float64")]
    good = "def f(i: NDArray[np.int64], x: NDArray[_F], threads: int) -> None: ..."
    check(runtime, good)
    with pytest.raises(AssertionError, match="the binding takes"):  # the stub lost an argument
        check(runtime, "def f(i: NDArray[np.int64], x: NDArray[_F]) -> None: ...")
    with pytest.raises(AssertionError, match="bound as 'x'"):  # ... or renamed one
        check(runtime, "def f(i: NDArray[np.int64], y: NDArray[_F], threads: int) -> None: ...")
    with pytest.raises(AssertionError, match="the binding takes"):  # the binding gained one
        check([sig("float32", "n"), sig("float64", "n")], good)
    with pytest.raises(AssertionError, match="differ in more than"):  # ... in one overload
        check([sig("float32", "n"), sig("float64")], good)
    with pytest.raises(AssertionError, match="differ in more than"):  # ... renamed in one
        check([sig("float32", name="y"), sig("float64")], good)
    with pytest.raises(AssertionError, match="differ in more than"):  # a third overload
        check([*runtime, sig("float64")], good)
    int_overload = Signature(runtime[0].params, "None",
                             ("numpy.typing.NDArray[numpy.int32]",) + runtime[1].types[1:])
    with pytest.raises(AssertionError, match="differ in more than"):  # not only the dtype
        check([runtime[0], int_overload], good)
    with pytest.raises(AssertionError, match="one dtype in every overload"):
        check(runtime, "def f(i: NDArray[_F], x: NDArray[_F], threads: int) -> None: ...")
    two = [Signature(("x", "y"), "None", (a, a)) for a in (sig("float32").types[1],
                                                            sig("float64").types[1])]
    with pytest.raises(AssertionError, match="changes dtype with the overload"):
        check(two, "def f(x: NDArray[_F], y: NDArray[np.float64]) -> None: ...")
    returning = [sig("float32", returns="{}"), sig("float64", returns="{}")]
    check(returning, "def f(i: NDArray[np.int64], x: NDArray[_F], threads: int) -> "
                     "NDArray[_F]: ...")
    with pytest.raises(AssertionError, match="the return type changes"):
        check(returning, "def f(i: NDArray[np.int64], x: NDArray[_F], threads: int) -> "
                         "NDArray[np.float64]: ...")
    with pytest.raises(AssertionError, match="@overload"):  # no TypeVar: one signature of two
        check(runtime, "def f(i: NDArray[np.int64], x: NDArray[np.float64], threads: int) -> "
                       "None: ...")


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
    "_core.linalg.tridiagonal_solve(lower=a, diag=a, upper=a, rhs=a, x=a)": "call-arg",
    "_core.givens.apply(i, i, a, a, a, transpose=1.5, threads=0)": "arg-type",
    "_core.givens.apply(i, i, a.astype(np.float32), a, a, False, 0)": "type-var",
    "_core.givens.GivensL1Descent64(a, threads=1).l1_norm(3)": "call-arg",
    "_core.tv_denoise(a, a, a)": "attr-defined",  # the flat name, before the area submodules
    "e: _core.ot.SinkhornMethod = _core.optimize.OptimizeMethod.lbfgs": "assignment",
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
