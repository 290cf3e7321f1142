#!/usr/bin/env bash
# The GPU check, in two steps, so that the GPU's time is spent running, not building:
#
#   bash scripts/gpu-check.sh --pack    # on a CPU machine of this project (Debian 12, the
#                                       # torch2 lane): builds build-torch2/ against pip's
#                                       # torch 2.11.0+cu130 (scripts/torch2-setup.sh) and puts
#                                       # the two programs, stripped, and the libraries they
#                                       # need beyond torch and the C library into gpu-pack/
#                                       # (under 64 MiB)
#   bash scripts/gpu-check.sh           # on the GPU machine (no network; its own Python with
#                                       # torch 2.11.0+cu130): runs gpu-pack/'s programs
#
# On the GPU machine, in at most 8 minutes (each step has its own time limit):
#   1. the suite's CUDA cases (the device-parametrised tests' /cuda cases);
#   2. `headcount bench train` of an fp32 and a bf16 training step of 6L-8H d 512
#      (Transformer-base) and its 48L-1H reshaping, and of 24L-16H d 1024 (BERT-large's
#      stack) and its 384L-1H reshaping, each beside the PyTorch-eager reference
#      (bench/reference_step.py, same shape, device and precision);
#   3. a short bf16 G2P run on the GPU;
# and prints one JSON object (also written to $OUT/gpu-check.json, or gpu-check/). Record it
# in docs/gpu.md with the date and the GPU. Without gpu-pack/, step 0 builds build-gpu/
# against python3's torch there (scripts/wheel-build.sh; the other libraries from the system
# or from Debian packages unpacked out of the folder given as the argument).
set -uo pipefail
cd "$(dirname "$0")/.."
pack=gpu-pack
log() { echo "gpu-check: $*" >&2; }

if [[ ${1:-} == --pack ]]; then
  set -e
  bash scripts/torch2-setup.sh
  # torch2-setup.sh's folders (the same variables and defaults).
  build=${HEADCOUNT_BUILD_DIR:-build-torch2}
  python=${HEADCOUNT_TORCH2_VENV:-.venv-torch2}/bin/python
  rm -rf "$pack" && mkdir -p "$pack/bin" "$pack/lib"
  for program in headcount headcount_tests; do
    strip -o "$pack/bin/$program" "$build/$program"
  done
  # What the programs load beyond torch's own folders (found there from torch's install)
  # and the C and C++ runtimes every Linux has: yaml-cpp, tcmalloc, and the like.
  ldd "$build/headcount" "$build/headcount_tests" | awk '$3 ~ /^\// {print $3}' | sort -u |
    grep -v -e '/site-packages/' -e '/libc\.so' -e '/libm\.so' -e '/libdl\.so' -e '/librt\.so' \
            -e '/libpthread\.so' -e '/libutil\.so' -e '/ld-linux' -e '/libgcc_s\.so' -e '/libstdc++\.so' -e '/libgomp\.so' -e '/libz\.so' |
    while read -r library; do cp -L "$library" "$pack/lib/"; done
  "$python" -c 'import torch; print(torch.__version__)' > "$pack/torch-version"
  git rev-parse HEAD > "$pack/commit" 2>/dev/null || true
  du -sh "$pack"
  ls "$pack/lib"
  echo "gpu-check: $pack/ holds the programs for torch $(cat "$pack/torch-version"); carry it to the GPU machine" \
       "beside this checkout and run: bash scripts/gpu-check.sh"
  exit 0
fi

out=${OUT:-gpu-check}
mkdir -p "$out"
python=${PYTHON:-python3}
if ! $python -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo '{"error": "python3 torch sees no CUDA GPU"}' | tee "$out/gpu-check.json"
  exit 1
fi
started=$(date +%s)
torch_lib=$($python -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
torch_version=$($python -c 'import torch; print(torch.__version__)')

if [[ -x $pack/bin/headcount ]]; then
  bin=$pack/bin
  if [[ $(cat "$pack/torch-version") != "$torch_version" ]]; then
    echo "{\"error\": \"$pack/ was built for torch $(cat "$pack/torch-version"), this machine has $torch_version\"}" |
      tee "$out/gpu-check.json"
    exit 1
  fi
  # The programs' run paths name the build machine's torch; this machine's comes first.
  export LD_LIBRARY_PATH="$torch_lib:$PWD/$pack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  log "running $pack/ (commit $(cat "$pack/commit" 2>/dev/null)) against torch $torch_version"
else
  bin=build-gpu
  log "no $pack/: building against $torch_lib"
  if ! PYTHON=$python HEADCOUNT_BUILD_DIR=build-gpu HEADCOUNT_SKIP_TESTS=1 \
       bash scripts/wheel-build.sh "$@" > "$out/build.log" 2>&1; then
    tail -30 "$out/build.log" >&2
    echo '{"error": "build failed; see build.log"}' | tee "$out/gpu-check.json"
    exit 1
  fi
fi
built=$(date +%s)

log "CUDA tests"
mkdir -p "$out/scratch"
TMPDIR=$PWD/$out/scratch timeout 90 "$bin/headcount_tests" --gtest_filter='*/cuda' > "$out/tests.log" 2>&1
tests_status=$?
tests_summary=$(grep -E '^\[  (PASSED|FAILED|SKIPPED)|^\[==========\]' "$out/tests.log" | tr '\n' ' ')

# Each (shape, precision): headcount's step and the PyTorch-eager reference's on the same GPU.
# Time limits: 90 + 4 x 30 + 4 x 50 + 60 s, under 8 minutes with the start.
bench_rows=()
for shape in base-shallow base-deep large-shallow large-deep; do
  limit=30
  [[ $shape == large-* ]] && limit=50
  for precision in fp32 bf16; do
    log "bench $shape $precision"
    row=$(timeout $limit "$bin/headcount" bench train --shape $shape --steps 5 --rounds 1 --device cuda \
      --precision $precision --reference --python "$python" --json 2>> "$out/bench.log")
    [[ -n $row ]] || row="{\"shape\": {\"name\": \"$shape\"}, \"precision\": \"$precision\", \"error\": \"see bench.log\"}"
    bench_rows+=("$row")
  done
done

log "a short bf16 G2P run"
rm -rf "$out/g2p-run"
timeout 60 "$bin/headcount" train --config configs/g2p-tiny.yaml --out "$out/g2p-run" --set train.device=cuda \
  --set train.precision=bf16 --set train.max_updates=300 > "$out/train.log" 2>&1
train_status=$?

finished=$(date +%s)
$python - "$out" "$tests_status" "$tests_summary" "$train_status" "$((built - started))" "$((finished - started))" \
  "${bench_rows[@]}" <<'PY' | tee "$out/gpu-check.json"
import json, os, sys
import torch
out, tests_status, tests_summary, train_status, build_s, total_s, *rows = sys.argv[1:]
bench = []
for row in rows:
    try:
        bench.append(json.loads(row))
    except ValueError:
        bench.append({"error": "not JSON", "text": row[:300]})
def step(shape, precision):
    for r in bench:
        if r.get("shape", {}).get("name") == shape and r.get("precision") == precision and "step_ms" in r:
            return r["step_ms"]
ratios = {}
for shallow, deep in (("base-shallow", "base-deep"), ("large-shallow", "large-deep")):
    for precision in ("fp32", "bf16"):
        a, b = step(shallow, precision), step(deep, precision)
        ratios[f"{deep}/{shallow} {precision}"] = b / a if a and b else None
summary_path = os.path.join(out, "g2p-run", "summary.json")
run = json.load(open(summary_path)) if os.path.exists(summary_path) else None
print(json.dumps({
    "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda,
    "build_s": int(build_s), "total_s": int(total_s),
    "cuda_tests": {"status": int(tests_status), "summary": tests_summary.strip()},
    "bench": bench,
    "deep_over_shallow": ratios,
    "train": {"status": int(train_status), "summary": {k: run.get(k) for k in
              ("status", "updates", "tokens_per_s", "device", "precision", "peak_device_memory_mib", "test")} if run else None},
}, indent=1))
PY
