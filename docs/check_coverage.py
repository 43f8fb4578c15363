"""Check that the API reference documents every public function, class and method.

The public API is what tests/packaging/test_docstrings.py checks: the functions and classes in
``optkern.__all__``, in the ``__all__`` of every optkern module it lists (and of optkern.torch
and optkern.jax), and the public methods of the classes found there. Each must be an object
in the built site's inventory (objects.inv), under the public module's name.

Usage: python docs/check_coverage.py docs/_build/html/objects.inv
"""

from __future__ import annotations

import importlib
import inspect
import sys
import types

from sphinx.util.inventory import InventoryFile

MODULES = ["optkern", "optkern.torch", "optkern.jax"]


def public_names() -> set[str]:
    names: set[str] = set()
    seen: set[str] = set()
    todo = [importlib.import_module(m) for m in MODULES]
    while todo:
        module = todo.pop()
        if module.__name__ in seen:
            continue
        seen.add(module.__name__)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType):
                if obj.__name__.startswith("optkern"):
                    todo.append(obj)
                continue
            if not callable(obj):
                continue  # data (__version__, problems.ALL)
            qualname = f"{module.__name__}.{name}"
            names.add(qualname)
            if inspect.isclass(obj) and not issubclass(obj, BaseException):
                for member, value in vars(obj).items():
                    if member.startswith("_"):
                        continue
                    if callable(value) or isinstance(value, (property, classmethod,
                                                            staticmethod)):
                        names.add(f"{qualname}.{member}")
    return names


def main(path: str) -> int:
    with open(path, "rb") as f:
        inventory = InventoryFile.load(f, "", lambda base, uri: uri)
    documented = {name for kind in inventory.values() for name in kind}
    missing = sorted(n for n in public_names() if n not in documented)
    # A name exported by two modules (optkern.optimize.Problem is also in .problems) need
    # only be documented once.
    missing = [n for n in missing if not any(d.endswith("." + n.rsplit(".", 1)[-1])
                                             and n.startswith("optkern.optimize.problems.")
                                             for d in documented)]
    if missing:
        print("not in the API reference:", *missing, sep="\n  ")
        return 1
    print(f"docs: {len(public_names())} public names, all in the API reference")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
