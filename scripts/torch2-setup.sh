#!/usr/bin/env bash
# The second build lane: headcount against LibTorch 2.x with CUDA, from pip's PyTorch wheel.
#   bash scripts/torch2-setup.sh        # venv in .venv-torch2/, build in build-torch2/
#   bash scripts/torch2-test.sh         # the same, then the whole suite in build-torch2/
# Makes a virtual environment, installs the pinned torch wheel (CUDA 13.0, the CUDA of the
# machine's nvcc and of the project's GPU machines; NCCL comes with it as nvidia-nccl-cu13),
# stops when the wheel's CUDA and nvcc's disagree, and builds with the CUDA code paths on.
# Needs pip's registry (PyPI) the first time; nothing runs on a GPU here. The Debian lane's
# build/ is left as it is; its packages (scripts/setup.sh) are this lane's other libraries.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned: the GPU machines hold torch 2.11.0 built for CUDA 13.0, and PyPI's 2.11.0 wheel
# for Linux x86-64 is that build. Change both lines together.
torch_version=2.11.0
torch_cuda=13.0
# The outside references the tests check against (export: safetensors' reader, transformers'
# BERT); the tests that need them skip where they are absent.
reference_packages=(safetensors==0.8.0 transformers==5.23.0)
venv=${HEADCOUNT_TORCH2_VENV:-.venv-torch2}
build=${HEADCOUNT_BUILD_DIR:-build-torch2}

# Debian's packages: this lane's other libraries (yaml-cpp, CLI11, fmt, GoogleTest, Gloo's
# headers, tcmalloc, ...) and python3-venv.
bash scripts/setup.sh --packages-only python3-venv

if ! command -v nvcc > /dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
if ! command -v nvcc > /dev/null; then
  echo "torch2-setup: nvcc not found (PATH, /usr/local/cuda/bin): the CUDA $torch_cuda toolkit is" \
       "needed to build against a CUDA LibTorch" >&2
  exit 1
fi
nvcc_cuda=$(nvcc --version | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p')

if [[ ! -x $venv/bin/python ]]; then
  echo "torch2-setup: virtual environment $venv"
  /usr/bin/python3 -m venv "$venv"
fi
python=$venv/bin/python
installed=$("$python" -c 'import torch; print(torch.__version__)' 2>/dev/null || true)
if [[ $installed != "$torch_version"* ]]; then
  echo "torch2-setup: pip install torch==$torch_version (about 3 GB with its CUDA libraries, once)"
  "$python" -m pip install --quiet --disable-pip-version-check "torch==$torch_version" numpy
fi
read -r wheel_version wheel_cuda < <("$python" -c 'import torch; print(torch.__version__, torch.version.cuda)')
echo "torch2-setup: torch $wheel_version (CUDA $wheel_cuda); nvcc CUDA $nvcc_cuda; GPU machines: torch $torch_version, CUDA $torch_cuda"
if [[ $wheel_cuda != "$nvcc_cuda" || $wheel_cuda != "$torch_cuda" ]]; then
  echo "torch2-setup: the CUDA versions disagree: the wheel's is $wheel_cuda, nvcc's $nvcc_cuda, the" \
       "GPU machines' $torch_cuda. Install the CUDA $torch_cuda toolkit (or point PATH at its nvcc)," \
       "or change the pin at the top of $0 together with the GPU machines' torch." >&2
  exit 1
fi

if ! "$python" -m pip show --quiet "${reference_packages[@]%%==*}" > /dev/null 2>&1; then
  echo "torch2-setup: pip install ${reference_packages[*]} (the tests' outside references)"
  "$python" -m pip install --quiet --disable-pip-version-check "${reference_packages[@]}"
fi

PYTHON=$python HEADCOUNT_BUILD_DIR=$build HEADCOUNT_SKIP_TESTS=1 bash scripts/wheel-build.sh
