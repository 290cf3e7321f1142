#!/usr/bin/env bash
# Builds headcount against the LibTorch inside python3's PyTorch wheel (2.x, CUDA or not)
# in build-wheel/, then runs the tests there. The other libraries (yaml-cpp, CLI11, fmt,
# nlohmann-json, zlib, GoogleTest) come from the system, or, where the system lacks them,
# from Debian 12 packages unpacked out of the folder given as the first argument (fetch
# them elsewhere with `apt-get download libyaml-cpp-dev libyaml-cpp0.7 libcli11-dev
# nlohmann-json3-dev libfmt-dev libfmt9 zlib1g-dev libgtest-dev`).
# README's "Another LibTorch" figures came from these steps (scripts/wheel-build.sh debs/,
# with ctest -j 12 under a time limit).
# PYTHON (default python3) is the Python whose torch is built against; scripts/torch2-setup.sh
# passes its virtual environment's.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
# The torch package's own folder as the prefix, not torch.utils.cmake_prefix_path (its
# share/cmake): CMake then searches its lib/ before the system's, so TorchConfig's
# find_library takes the wheel's libtorch even where Debian's libtorch-dev is installed too.
torch_prefix=$("$python" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
prefix_path="$torch_prefix"
extra=()
if [ $# -ge 1 ]; then
  unpacked=$(mktemp -d)
  for package in "$1"/*.deb; do dpkg -x "$package" "$unpacked"; done
  prefix_path="$torch_prefix;$unpacked/usr"
  # Debian's libz.so links to an absolute path of Debian's zlib; the static one travels.
  extra=(-DZLIB_LIBRARY="$unpacked/usr/lib/x86_64-linux-gnu/libz.a" -DZLIB_INCLUDE_DIR="$unpacked/usr/include")
fi
# nccl.h is not in the wheel's include folder; pip's nvidia-nccl package (a dependency of the
# CUDA wheels) has it, matching the libnccl the wheel loads.
nccl_include=$("$python" -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "include"))' 2>/dev/null || true)
[[ -n $nccl_include && -f $nccl_include/nccl.h ]] && extra+=(-DHEADCOUNT_NCCL_INCLUDE_DIR="$nccl_include")
# The data-parallel tests launch their ranks with this Python's torch.distributed (torchrun's agent).
launcher=$(command -v "$python")
[[ $launcher == /* ]] || launcher=$PWD/$launcher
extra+=(-DHEADCOUNT_LAUNCHER_PYTHON="$launcher")
# scripts/torch2-setup.sh and scripts/gpu-check.sh build through this script: their own
# folder, more CMake arguments, and no test run.
build=${HEADCOUNT_BUILD_DIR:-build-wheel}
read -r -a more <<< "${HEADCOUNT_CMAKE_ARGS:-}"
"$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix_path" "${extra[@]}" "${more[@]}"
cmake --build "$build" -j "$(nproc)"
[ -n "${HEADCOUNT_SKIP_TESTS:-}" ] && exit 0
cd "$build" && ctest --output-on-failure -j "$(( $(nproc) / 4 > 0 ? $(nproc) / 4 : 1 ))"
