#!/usr/bin/env bash
# The torch2 lane's tests: sets up and builds (scripts/torch2-setup.sh: LibTorch 2.x with
# CUDA from pip, build-torch2/), then runs the whole suite there through CTest on the CPU.
# The /cuda cases skip themselves without a GPU. Arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/torch2-setup.sh
cd build-torch2
ctest --output-on-failure -j 1 "$@"
