#!/usr/bin/env bash
# Each CUDA kernel's tests under NVIDIA compute-sanitizer, on a GPU machine with optkern built
# with CUDA (tests/gpu_check.sh builds it): memcheck (out-of-bounds and misaligned device
# accesses, CUDA API errors) and racecheck (shared-memory data races). One log per kernel and
# tool goes to $OUT; the exit status is 1 if any run reported an error.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-gpu-check-out}"
SANITIZER="${COMPUTE_SANITIZER:-compute-sanitizer}"
mkdir -p "$OUT"
status=0
for area_kernel in linalg/bmm ot/sinkhorn ot/sinkhorn_unbalanced ot/sinkhorn_points tv/tv givens/givens \
    optimize/optimize; do
  kernel="${area_kernel#*/}"
  for tool in memcheck racecheck; do
    log="$OUT/sanitize-$kernel-$tool.log"
    "$SANITIZER" --tool "$tool" --error-exitcode 99 --print-limit 20 \
      python3 -m pytest -q -x -m cuda -p no:cacheprovider "tests/${area_kernel%/*}/test_${kernel}_cuda.py" \
      > "$log" 2>&1
    rc=$?
    echo "$kernel $tool: exit $rc, $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$log" | tail -1)"
    [ "$rc" -eq 0 ] || status=1
  done
done
exit "$status"
