#!/usr/bin/env bash
# Build the documentation as CI does: the HTML site with every warning an error, then the
# doctests (the Examples of every public docstring and the tour's code). Run from anywhere,
# with optkern importable and the docs extra installed (pip install ".[docs]").
set -euo pipefail
cd "$(dirname "$0")/.."
python -m sphinx -W --keep-going -q -b html docs docs/_build/html
python -m sphinx -W --keep-going -q -b doctest docs docs/_build/doctest
python docs/check_coverage.py docs/_build/html/objects.inv
echo "docs: html and doctests passed"
