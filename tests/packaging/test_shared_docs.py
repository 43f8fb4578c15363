"""optkern._docs and optkern._keywords: the docstring paragraphs and the keyword groups that
several functions share are written once, and every function that names them shows them in
full (docstring, inspect.signature)."""

from __future__ import annotations

import re

import pytest
from test_docstrings import public_api

import optkern
from optkern import _docs

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


def test_keyword_groups_show_in_the_signature_and_fill_their_defaults():
    import inspect

    import numpy as np

    from optkern import _keywords

    sig = inspect.signature(optkern.ot.sinkhorn_cost)
    assert list(sig.parameters) == ["M", "a", "b", "reg", "method", "tol", "max_iter", "init",
                                    "device", "return_grad", "stream"]
    assert sig.parameters["tol"].default == 1e-9
    assert sig.parameters["tol"].kind is inspect.Parameter.KEYWORD_ONLY
    # the same names and defaults as the function that runs them
    full = inspect.signature(optkern.ot.sinkhorn).parameters
    for name, default in _keywords.SINKHORN.defaults.items():
        assert full[name].default == default, name
    for function, group in ((optkern.tv.denoise, _keywords.DENOISE),
                            (optkern.tv.denoise_2d, _keywords.DENOISE_2D)):
        full = inspect.signature(function).parameters
        for name, default in group.defaults.items():
            assert full[name].default == default, name
    batch = inspect.signature(optkern.optimize.minimize_batch).parameters
    assert [n for n in batch if n in _keywords.OPTIMIZER.defaults] == list(
        _keywords.OPTIMIZER.defaults)
    M = np.random.default_rng(0).random((3, 4))
    assert optkern.ot.sinkhorn_cost(M, reg=0.1) == optkern.ot.sinkhorn(M, reg=0.1).value
    with pytest.raises(TypeError, match="unexpected keyword argument 'tolerance'"):
        optkern.ot.sinkhorn_cost(M, reg=0.1, tolerance=1e-3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'mm'"):
        optkern.optimize.minimize_batch(optkern.optimize.problems.rosenbrock(2),
                                        np.zeros((1, 2)), mm=3)
