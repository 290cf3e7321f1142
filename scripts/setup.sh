#!/usr/bin/env bash
# Installs what headcount needs on Debian 12 (as root) and builds it into build/.
# Arguments: more Debian packages to install with them.
# Idempotent: packages already present are not reinstalled, and an existing build
# folder is only brought up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake
  libtorch-dev libopenblas0-openmp     # LibTorch 1.13 (CPU, c10d/Gloo); OpenBLAS as its BLAS
  libgloo-dev                          # headers c10d's Gloo process group includes (data-parallel)
  libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libfmt-dev zlib1g-dev
  sentencepiece                        # spm_train/spm_encode/spm_decode (see src/data/tokenizer.h)
  libgtest-dev
  gnuplot-nox                          # figures of the study report
)
packages+=("$@")  # more, for the tests (scripts/test.sh)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]}; run this script as root to install them" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"
