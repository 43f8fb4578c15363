"""The README's Python snippets run as written (in order, in one namespace)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_blocks_run(capsys):
    if not README.exists():
        pytest.skip("README.md is not next to the tests")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has no Python examples"
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)


def test_readme_links_resolve():
    # images and relative links (docs/figures/*.png, bench/README.md) exist in the tree
    if not README.exists():
        pytest.skip("README.md is not next to the tests")
    prose = re.sub(r"```.*?```", "", README.read_text(), flags=re.S)  # not code's [&](...)
    targets = re.findall(r"\]\(([^)#]+)\)", prose)
    local = [t for t in targets if not re.match(r"[a-z]+://", t)]
    assert any(t.endswith(".png") for t in local), "the README shows no figure"
    missing = [t for t in local if not (README.parent / t).exists()]
    assert not missing, f"README links to missing files: {missing}"
