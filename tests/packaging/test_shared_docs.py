"""optkern._docs: the docstring paragraphs several functions share are written once and
filled into every docstring that names them."""

from __future__ import annotations

import re

import pytest

import optkern
from optkern import _docs
from test_docstrings import public_api

MARKER = re.compile(r"^\s*\{[A-Za-z_][A-Za-z0-9_]*\}\s*$", re.MULTILINE)


def test_no_public_docstring_keeps_a_marker():
    left = [e.qualname for e in public_api()
            if isinstance(getattr(e.obj, "__doc__", None), str) and MARKER.search(e.obj.__doc__)]
    assert left == []


def test_the_shared_text_is_the_same_everywhere():
    stream = _docs.TEXTS["stream"].splitlines()[1].strip()
    for fn in (optkern.linalg.bmm, optkern.linalg.tridiagonal_solve, optkern.tv.denoise,
               optkern.tv.denoise_vjp, optkern.ot.sinkhorn, optkern.ot.sinkhorn_cost,
               optkern.optimize.minimize_batch, optkern.givens.factorize):
        assert stream in fn.__doc__, fn.__name__
    tol = _docs.TEXTS["sinkhorn_tol"].splitlines()[1].strip()
    for fn in (optkern.ot.sinkhorn, optkern.ot.sinkhorn_cost, optkern.ot.sinkhorn2,
               optkern.ot.sinkhorn_divergence):
        assert tol in fn.__doc__, fn.__name__
    gtol = "Stop when ``max(abs(g)) <= gtol`` (SciPy's ``gtol``)."
    assert gtol in optkern.optimize.minimize.__doc__
    assert gtol in optkern.optimize.minimize_batch.__doc__


def test_render_indents_continues_and_refuses_unknown_names():
    doc = "Summary.\n\n    Parameters\n    ----------\n    {stream}\n        Mine.\n    {x}\n"
    out = _docs.render(doc, {"x": "x : int\n    The x."})
    lines = out.splitlines()
    assert lines[4] == "    stream : int, torch.cuda.Stream or cupy.cuda.Stream, optional"
    assert lines[-3] == "        Mine."
    assert lines[-2:] == ["    x : int", "        The x."]
    assert _docs.render("a {stream} b\n    {not a marker}") == "a {stream} b\n    {not a marker}"
    with pytest.raises(KeyError, match="no_such_paragraph"):
        _docs.render("    {no_such_paragraph}\n")


def test_fill_leaves_a_missing_docstring_alone():
    def f() -> None:
        pass

    assert _docs.fill(f) is f and f.__doc__ is None
