#!/usr/bin/env bash
# Build optkern with CUDA on a GPU machine and run everything that needs the GPU: the cuda
# tests, the GPU benchmarks and thesis Figure 4. Logs and figures go to $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-gpu-check-out}"
ARCH="${CUDA_ARCH:-90}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
nvidia-smi | tee "$OUT/nvidia-smi.txt"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps .whl/*.whl
fi
python3 -m pip install -v --no-build-isolation --no-deps \
  --config-settings=cmake.define.OPTKERN_CUDA=ON \
  --config-settings=cmake.define.CMAKE_CUDA_ARCHITECTURES="$ARCH" . > "$OUT/build.log" 2>&1 \
  || { tail -50 "$OUT/build.log"; exit 1; }
python3 -c "import optkern, json; print(json.dumps(optkern.build_info(), indent=1))"
python3 -m pytest tests -m cuda -q -rs 2>&1 | tee "$OUT/cuda-tests.log"
python3 -m pytest bench --benchmark-only -q -k "cuda or cublas or gpu" 2>&1 \
  | tee "$OUT/gpu-bench.log" | sed -n '/optkern: rates/,/^---/p'
python3 bench/figures/cpu_vs_gpu_matmul.py --out "$OUT" 2>&1 | tail -12
