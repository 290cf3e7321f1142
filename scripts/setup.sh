#!/usr/bin/env bash
# Installs what headcount needs on Debian 12 (as root) and builds it into build/.
# Arguments: more Debian packages to install with them; --packages-only (first) installs
# and does not build (scripts/torch2-setup.sh builds elsewhere).
# Idempotent: packages already present are not reinstalled, and an existing build
# folder is only brought up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
if [[ ${1:-} == --packages-only ]]; then build=0; shift; fi

packages=(
  build-essential cmake
  libtorch-dev libopenblas0-openmp     # LibTorch 1.13 (CPU, c10d/Gloo); OpenBLAS as its BLAS
  libdnnl-dev                          # oneDNN's headers: float32 linear layers (kernels/cpu/onednn_linear.h)
  libgloo-dev                          # headers c10d's Gloo process group includes (data-parallel)
  libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libfmt-dev zlib1g-dev
  sentencepiece                        # spm_train/spm_encode/spm_decode (see src/data/tokenizer.h)
  libgtest-dev
  gnuplot-nox                          # figures of the study report
  libgoogle-perftools-dev              # tcmalloc, the program's memory allocator (runtime/allocator.h)
)
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
if ((${#missing[@]})) && [[ $(id -u) -ne 0 ]]; then
  echo "setup: missing Debian packages: ${missing[*]}; run this script as root to install them" >&2
  exit 1
fi
# The arguments (scripts/test.sh's): wanted, not needed; without root they are left out and
# the tests that use them skip themselves.
for p in "$@"; do
  installed "$p" && continue
  if [[ $(id -u) -eq 0 ]]; then missing+=("$p"); else echo "setup: $p is not installed; tests that need it skip" >&2; fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

((build)) || exit 0
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"
