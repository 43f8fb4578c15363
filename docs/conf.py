"""Sphinx configuration for the optkern documentation.

Build (CI runs both; see docs/build.sh):
    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python -m sphinx -W --keep-going -b doctest docs docs/_build/doctest

The API pages use ``automodule`` with ``:members:``, which follows each module's ``__all__``:
a function added to an area's ``__all__`` appears in the reference with no edit here.
"""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import optkern

ROOT = Path(__file__).resolve().parent.parent

project = "optkern"
author = "the optkern developers"
copyright = "2026, the optkern developers"  # noqa: A001 - Sphinx's name
# The version comes from CMakeLists.txt, as for the wheel (pyproject's regex provider).
_match = re.search(r"project\(optkern VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text())
release = _match.group(1) if _match else optkern.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
]

exclude_patterns = ["_build", "figures/README*"]
nitpicky = False

# autodoc: every name in a module's __all__, in source order, with the signature in the
# header and not repeated in the body (numpydoc already lists the parameters).
autodoc_default_options = {
    "members": True,
    "member-order": "bysource",
    "show-inheritance": False,
}
autodoc_typehints = "none"
autodoc_preserve_defaults = True

# numpydoc renders the Parameters/Returns/Raises/Examples sections. Class members are
# documented by autodoc (:members:), so numpydoc's own member tables are turned off.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# Doctests: the Examples sections of the docstrings (standard doctest blocks) and the
# testcode blocks of the tour, with the flags tests/packaging/test_package.py uses.
doctest_global_setup = "import numpy as np\nimport optkern\n"
doctest_default_flags = (doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
                         | doctest.IGNORE_EXCEPTION_DETAIL | doctest.DONT_ACCEPT_TRUE_FOR_1)
doctest_test_doctest_blocks = "default"

html_theme = "furo"
html_title = f"optkern {release}"
html_static_path: list[str] = []
html_show_sourcelink = False


# The docstrings are written for help() as much as for this site, and write absolute values
# and norms as plain text: ``|u_k − u_{k+1}|``, ``|S|``. reStructuredText reads ``|text|`` as
# a substitution reference (an error under -W). No optkern docstring uses substitutions, so
# such bars are escaped before parsing, except inside ``literals`` and doctest blocks (whose
# text is compared verbatim).
_SUBSTITUTION = re.compile(r"(?<![\\|\w])\|(?=\S)([^|`\n]*?\S)\|(?![\w|])")
_LITERAL = re.compile(r"(``.*?``)")


def _escape_bars(line: str) -> str:
    parts = _LITERAL.split(line)
    for k in range(0, len(parts), 2):  # even parts are outside ``literals``
        parts[k] = _SUBSTITUTION.sub(r"\\|\1\\|", parts[k])
    return "".join(parts)


def _process_docstring(app, what, name, obj, options, lines):  # noqa: ARG001 - Sphinx's API
    in_doctest = False
    for k, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith(">>>"):
            in_doctest = True
        elif not stripped:
            in_doctest = False
        if not in_doctest:
            lines[k] = _escape_bars(line)


def setup(app):
    app.connect("autodoc-process-docstring", _process_docstring, priority=400)
