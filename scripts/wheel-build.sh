#!/usr/bin/env bash
# Builds headcount against the LibTorch inside python3's PyTorch wheel (2.x, CUDA or not)
# in build-wheel/, then runs the tests there. The other libraries (yaml-cpp, CLI11, fmt,
# nlohmann-json, zlib, GoogleTest) come from the system, or, where the system lacks them,
# from Debian 12 packages unpacked out of the folder given as the first argument (fetch
# them elsewhere with `apt-get download libyaml-cpp-dev libyaml-cpp0.7 libcli11-dev
# nlohmann-json3-dev libfmt-dev libfmt9 zlib1g-dev libgtest-dev`).
# README's "Another LibTorch" figures came from these steps (scripts/wheel-build.sh debs/,
# with ctest -j 12 under a time limit).
set -euo pipefail
cd "$(dirname "$0")/.."
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
prefix_path="$torch_prefix"
extra=()
if [ $# -ge 1 ]; then
  unpacked=$(mktemp -d)
  for package in "$1"/*.deb; do dpkg -x "$package" "$unpacked"; done
  prefix_path="$torch_prefix;$unpacked/usr"
  # Debian's libz.so links to an absolute path of Debian's zlib; the static one travels.
  extra=(-DZLIB_LIBRARY="$unpacked/usr/lib/x86_64-linux-gnu/libz.a" -DZLIB_INCLUDE_DIR="$unpacked/usr/include")
fi
# scripts/gpu-check.sh builds through this script: its own folder, more CMake arguments
# (nccl.h's folder), and no test run.
build=${HEADCOUNT_BUILD_DIR:-build-wheel}
read -r -a more <<< "${HEADCOUNT_CMAKE_ARGS:-}"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
cmake -S . -B "$build" -DCMAKE_PREFIX_PATH="$prefix_path" "${extra[@]}" "${more[@]}"
cmake --build "$build" -j "$(nproc)"
[ -n "${HEADCOUNT_SKIP_TESTS:-}" ] && exit 0
cd "$build" && ctest --output-on-failure -j "$(( $(nproc) / 4 > 0 ? $(nproc) / 4 : 1 ))"
