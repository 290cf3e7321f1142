#!/usr/bin/env bash
# Sets up (if needed), builds, and runs the whole test suite through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
# python3-torch: the tests launch ranks with torch's own elastic agent (the one behind torchrun).
bash scripts/setup.sh python3-torch
cd build
ctest --output-on-failure -j 1 "$@"
