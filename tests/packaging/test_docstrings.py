"""Every public function and class has a numpydoc docstring a user can trust.

The public API is ``optkern.__all__`` and the ``__all__`` of every area module it lists
(recursively), plus the public methods of the classes found there (inherited ones
included, when optkern defines them). Each needs:

- a one-line summary;
- functions and methods: ``Parameters`` (when they take any, naming exactly the signature's
  parameters), ``Returns`` (unless annotated ``-> None``), ``Raises`` (when they take
  arguments: every argument is validated) and ``Examples`` with doctest lines;
- classes: ``Parameters`` or ``Attributes`` covering the constructor's arguments,
  ``Examples``, and ``Raises`` when the constructor validates (a ``__post_init__``);
- properties: a summary (numpydoc documents them as attributes).

Every module that defines one of them must be in tests/packaging/test_package.py's doctest list, so
that the Examples run in CI. With numpydoc installed its parser reads the sections and the
parameter names are compared; without it a plain header check is done.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
import types
import warnings
from dataclasses import dataclass

import pytest
from test_package import DOCTEST_MODULES

import optkern

try:
    from numpydoc.docscrape import NumpyDocString
except ImportError:  # pragma: no cover - numpydoc is optional
    NumpyDocString = None


@dataclass(frozen=True)
class Entry:
    qualname: str
    obj: object
    kind: str  # "function", "class", "method" or "property"
    module: str  # where it is defined (whose doctests must run)


def public_modules(module: types.ModuleType = optkern, seen: set[str] | None = None):
    seen = set() if seen is None else seen
    if module.__name__ in seen:
        return
    seen.add(module.__name__)
    yield module
    for name in module.__all__:
        value = getattr(module, name)
        if isinstance(value, types.ModuleType) and value.__name__.startswith("optkern"):
            yield from public_modules(value, seen)


def class_members(cls: type):
    """(name, raw attribute, defining class) of public members defined by optkern."""
    for name in dir(cls):
        if name.startswith("_"):
            continue
        owner = next(c for c in cls.__mro__ if name in vars(c))
        if owner.__module__.startswith("optkern"):
            yield name, vars(owner)[name], owner


@functools.cache
def public_api() -> tuple[Entry, ...]:
    entries: dict[int, Entry] = {}
    for module in public_modules():
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType) or id(obj) in entries:
                continue
            qualname = f"{module.__name__}.{name}"
            if isinstance(obj, type):
                entries[id(obj)] = Entry(qualname, obj, "class", obj.__module__)
                for member, raw, owner in class_members(obj):
                    if isinstance(raw, (property, functools.cached_property)):
                        kind = "property"
                    elif isinstance(raw, (types.FunctionType, classmethod, staticmethod)):
                        kind = "method"
                    else:
                        continue  # a field's default value
                    key = id(raw)
                    if key not in entries:
                        entries[key] = Entry(f"{qualname}.{member}", raw, kind, owner.__module__)
            elif callable(obj):
                entries[id(obj)] = Entry(qualname, obj, "function", obj.__module__)
    return tuple(entries.values())


# --- reading a docstring ----------------------------------------------------------------------
@dataclass(frozen=True)
class Doc:
    summary: str
    sections: dict[str, str]  # section title -> its text
    names: dict[str, set[str]] | None  # Parameters / Attributes -> names, with numpydoc


def read_doc(obj: object) -> Doc:
    text = inspect.cleandoc(inspect.getdoc(obj) or "")
    lines = text.splitlines()
    summary = lines[0].strip() if lines else ""
    sections: dict[str, str] = {}
    title = None
    for k, line in enumerate(lines):
        below = lines[k + 1] if k + 1 < len(lines) else ""
        if line.strip() and re.fullmatch(r"-{3,}", below.strip()) and \
                len(below.strip()) == len(line.strip()):
            title = line.strip()
            sections[title] = ""
        elif title is not None and not re.fullmatch(r"-{3,}", line.strip()):
            sections[title] += line + "\n"
    names = None
    if NumpyDocString is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = NumpyDocString(text)
        names = {key: {part.strip() for p in parsed[key] for part in p.name.split(",")}
                 for key in ("Parameters", "Other Parameters", "Attributes")}
        names["Parameters"] |= names.pop("Other Parameters")
    return Doc(summary, sections, names)


def signature_params(obj: object) -> list[str]:
    params = inspect.signature(obj).parameters.values()
    out = []
    for p in params:
        if p.name in ("self", "cls"):
            continue
        prefix = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        out.append(prefix + p.name)
    return out


def returns_none(func: object) -> bool:
    annotation = inspect.signature(func).return_annotation
    return annotation is None or annotation == "None"


# --- the rules --------------------------------------------------------------------------------
def problems_of(entry: Entry) -> list[str]:
    obj = entry.obj
    if isinstance(obj, (classmethod, staticmethod)):
        obj = obj.__func__
    doc = read_doc(obj.fget if isinstance(obj, property) else
                   obj.func if isinstance(obj, functools.cached_property) else obj)
    out = []
    if not doc.summary:
        return ["no docstring"]
    if entry.kind == "property":
        return out

    def need(section: str, why: str = "") -> None:
        if section not in doc.sections or not doc.sections[section].strip():
            out.append(f"no {section} section{why}")

    need("Examples")
    if "Examples" in doc.sections and ">>>" not in doc.sections["Examples"]:
        out.append("Examples has no doctest (>>>) line")
    params = signature_params(obj)
    if entry.kind == "class":
        if "Parameters" not in doc.sections and "Attributes" not in doc.sections:
            out.append("no Parameters or Attributes section")
        elif doc.names is not None:
            documented = doc.names["Parameters"] | doc.names["Attributes"]
            missing = [p for p in params if p not in documented]
            if missing:
                out.append(f"constructor arguments not documented: {missing}")
        if "__post_init__" in vars(obj):
            need("Raises", " (the constructor validates its arguments)")
        return out
    if params:
        need("Parameters")
        need("Raises", " (it takes arguments, which it validates)")
        if doc.names is not None and "Parameters" in doc.sections:
            documented = doc.names["Parameters"]
            if set(params) != documented:
                out.append(f"Parameters documents {sorted(documented)}, the signature has "
                           f"{params}")
    if not returns_none(obj):
        need("Returns")
    return out


def test_the_public_api_is_found():
    names = {e.qualname for e in public_api()}
    for expected in ("optkern.build_info", "optkern.linalg.bmm", "optkern.tv.denoise",
                     "optkern.givens.GivensSequence.apply", "optkern.givens.GivensSequence.load",
                     "optkern.ot.sinkhorn", "optkern.optimize.OptimizeResult.keys",
                     "optkern.optimize.problems.rosenbrock", "optkern.optimize.Problem.x0"):
        assert expected in names
    assert len(names) > 40


@pytest.mark.parametrize("entry", public_api(), ids=lambda e: e.qualname)
def test_public_docstring_is_complete(entry):
    problems = problems_of(entry)
    assert not problems, f"{entry.qualname}: " + "; ".join(problems)


@pytest.mark.parametrize("entry", public_api(), ids=lambda e: e.qualname)
def test_examples_run_in_ci(entry):
    assert entry.module in DOCTEST_MODULES, (
        f"{entry.qualname} is defined in {entry.module}: add it to DOCTEST_MODULES in "
        "tests/packaging/test_package.py so that its Examples run")
    importlib.import_module(entry.module)


def test_the_rules_catch_gaps():
    def bare(x, y=1):
        """Only a summary."""

    def wrong_names(x) -> int:
        """Summary.

        Parameters
        ----------
        z : int
            Not x.

        Returns
        -------
        int
            Something.

        Raises
        ------
        ValueError
            Never.

        Examples
        --------
        Prose only.
        """

    def nothing_in() -> None:
        """Summary.

        Examples
        --------
        >>> nothing_in()
        """

    found = problems_of(Entry("bare", bare, "function", "m"))
    for section in ("Examples", "Parameters", "Raises", "Returns"):
        assert any(section in p for p in found), (section, found)
    found = problems_of(Entry("wrong_names", wrong_names, "function", "m"))
    assert any("doctest" in p for p in found)
    if NumpyDocString is not None:
        assert any("signature has ['x']" in p for p in found)
    assert problems_of(Entry("nothing_in", nothing_in, "function", "m")) == []
    assert problems_of(Entry("undocumented", lambda: None, "function", "m")) == ["no docstring"]
