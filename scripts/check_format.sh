#!/usr/bin/env bash
# clang-format check for the C++/CUDA sources (.clang-format: Google style, 100 columns).
#
#   scripts/check_format.sh            check every file listed in scripts/clang_format_files.txt
#   scripts/check_format.sh FILE...    check those of the given files that are listed (pre-commit)
#   scripts/check_format.sh --all      report how many of all tracked sources conform (no failure)
#
# Only the listed files are enforced: the rest predate .clang-format and are formatted when
# they are next edited as a whole (reformatting them all at once would conflict with work in
# flight). clang-format comes from the lint extra (pip install ".[lint]") or CLANG_FORMAT.
set -euo pipefail
cd "$(dirname "$0")/.."
CF=${CLANG_FORMAT:-clang-format}
LIST=scripts/clang_format_files.txt
# Listed files that a move or rename removed are skipped (update the list when that happens).
listed() { grep -v '^#' "$LIST" | grep -v '^$' | while read -r f; do [[ -f $f ]] && echo "$f"; done; }

if [[ ${1:-} == --all ]]; then
  total=0; ok=0
  while read -r f; do
    total=$((total + 1))
    if "$CF" --dry-run -Werror "$f" >/dev/null 2>&1; then ok=$((ok + 1)); fi
  done < <(git ls-files '*.cpp' '*.hpp' '*.cu' '*.cuh' '*.h')
  echo "clang-format: $ok of $total C++/CUDA sources conform ($(listed | wc -l) enforced)"
  exit 0
fi

if [[ $# -gt 0 ]]; then
  files=()
  for f in "$@"; do
    if listed | grep -qxF "$f"; then files+=("$f"); fi
  done
else
  mapfile -t files < <(listed)
fi
[[ ${#files[@]} -eq 0 ]] && exit 0
"$CF" --dry-run -Werror "${files[@]}"
echo "clang-format: ${#files[@]} files conform"
