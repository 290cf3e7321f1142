#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU and a PyTorch wheel (python3 -c 'import
# torch' works, torch.cuda.is_available() is true), in about 8 minutes:
#   1. builds headcount against the wheel's LibTorch into build-gpu/ (CUDA paths on; NCCL
#      when pip's nvidia-nccl headers are there);
#   2. runs the suite's CUDA tests (the device-parametrised tests' cuda cases);
#   3. times a bf16 and an fp32 training step of 6L-8H d 512 (Transformer-base) and of its
#      48L-1H reshaping with `headcount bench --reference` (bench/reference_step.py, PyTorch
#      eager, same shape, device and precision, beside it; GFLOP/s and MFU against the GPU's
#      measured matrix-product peak);
#   4. trains a short G2P run on the GPU in bf16;
# and prints one JSON object (also written to $OUT/gpu-check.json, or gpu-check/). Record
# its figures in docs/gpu.md with the date and the GPU.
# The build is scripts/wheel-build.sh's: the other libraries are the system's, or Debian
# packages unpacked from the folder given as the first argument.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-check}
mkdir -p "$out"
log() { echo "gpu-check: $*" >&2; }
python=${PYTHON:-python3}
if ! $python -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo '{"error": "python3 torch sees no CUDA GPU"}' | tee "$out/gpu-check.json"
  exit 1
fi
started=$(date +%s)

# nccl.h is not in the wheel's include folder; pip's nvidia-nccl package has it.
nccl_include=$($python -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "include"))' 2>/dev/null || true)
log "building against $($python -c 'import torch; print(torch.utils.cmake_prefix_path)')"
if ! HEADCOUNT_BUILD_DIR=build-gpu HEADCOUNT_SKIP_TESTS=1 \
     HEADCOUNT_CMAKE_ARGS="${nccl_include:+-DCMAKE_CXX_FLAGS=-I$nccl_include}" \
     bash scripts/wheel-build.sh "$@" > "$out/build.log" 2>&1; then
  tail -30 "$out/build.log" >&2
  echo '{"error": "build failed; see build.log"}' | tee "$out/gpu-check.json"
  exit 1
fi
built=$(date +%s)

log "CUDA tests"
build-gpu/headcount_tests --gtest_filter='*/cuda' > "$out/tests.log" 2>&1
tests_status=$?
tests_summary=$(grep -E '^\[  (PASSED|FAILED|SKIPPED)' "$out/tests.log" | tr '\n' ' ')

# Transformer-base and its single-head reshaping (d 512, head 64), 20 updates each; bench
# runs the PyTorch-eager reference (same shape, device and precision) beside headcount.
bench_rows=()
for shape in base-shallow base-deep; do
  for precision in fp32 bf16; do
    log "bench $shape $precision"
    row=$(build-gpu/headcount bench train --shape $shape --steps 20 --device cuda --precision $precision \
      --reference --python "$python" --json 2>> "$out/bench.log")
    [[ -n $row ]] || row="{\"shape\": {\"name\": \"$shape\"}, \"precision\": \"$precision\", \"error\": \"see bench.log\"}"
    bench_rows+=("$row")
  done
done

log "a short bf16 G2P run"
rm -rf "$out/g2p-run"
build-gpu/headcount train --config configs/g2p-tiny.yaml --out "$out/g2p-run" --set train.device=cuda \
  --set train.precision=bf16 --set train.max_updates=300 > "$out/train.log" 2>&1
train_status=$?

finished=$(date +%s)
$python - "$out" "$tests_status" "$tests_summary" "$train_status" "$((built - started))" "$((finished - started))" \
  "${bench_rows[@]}" <<'PY' | tee "$out/gpu-check.json"
import json, os, re, sys
import torch
out, tests_status, tests_summary, train_status, build_s, total_s, *rows = sys.argv[1:]
bench = [json.loads(row) for row in rows]
def step(shape, precision):
    for r in bench:
        if r["shape"]["name"] == shape and r["precision"] == precision and "step_ms" in r:
            return r["step_ms"]
deep, shallow = step("base-deep", "bf16"), step("base-shallow", "bf16")
summary_path = os.path.join(out, "g2p-run", "summary.json")
run = json.load(open(summary_path)) if os.path.exists(summary_path) else None
print(json.dumps({
    "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda,
    "build_s": int(build_s), "total_s": int(total_s),
    "cuda_tests": {"status": int(tests_status), "summary": tests_summary.strip()},
    "bench": bench,
    "deep_over_shallow_bf16": deep / shallow if deep and shallow else None,
    "train": {"status": int(train_status), "summary": {k: run.get(k) for k in
              ("status", "updates", "tokens_per_s", "device", "precision", "peak_device_memory_mib", "test")} if run else None},
}, indent=1))
PY
