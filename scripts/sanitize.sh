#!/usr/bin/env bash
# Builds headcount and its test suite with AddressSanitizer and UndefinedBehaviorSanitizer
# (clang, into build-sanitize/) and runs the suite there. Not part of CI: the sanitized
# suite takes longer than CI allows; docs/reliability.md records its runs.
#   bash scripts/sanitize.sh            # build and run every test
#   bash scripts/sanitize.sh -R Config  # arguments go to ctest
# The same build folder also holds the fuzz targets (scripts/fuzz.sh), so the library is
# compiled once for both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null  # packages, and the ordinary build the scripts expect
if ! command -v clang++ >/dev/null || ! compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends clang libclang-rt-dev  # clang 14 and its sanitizer runtimes, libFuzzer
fi
# UBSan's vptr and function checks are left out: they compare type information across the
# boundary to LibTorch, which is built without them, and report its own calls.
# -Wno-pass-failed: the instrumented loops marked `omp simd` cannot be vectorised, and clang
# says so for each (a warning of this build alone, not of the code).
flags="-fsanitize=address,undefined -fno-sanitize=vptr,function -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -Wno-pass-failed"
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ -DHEADCOUNT_FUZZ=ON \
  -DCMAKE_CXX_FLAGS="$flags -fsanitize=fuzzer-no-link" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
if [[ "${HEADCOUNT_SANITIZE_BUILD_ONLY:-}" == 1 ]]; then
  cmake --build build-sanitize -j "$(nproc)" --target "${@:-all}"
  exit 0
fi
cmake --build build-sanitize -j "$(nproc)"
# LibTorch keeps allocations alive until exit by design: leak reports would be its, not ours.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:${UBSAN_OPTIONS:-}"
cd build-sanitize
ctest --output-on-failure -j 1 "$@"
