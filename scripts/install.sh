#!/usr/bin/env bash
# Install the det toolbox from this checkout into the active Python environment
# (a fresh virtual environment is recommended: python3 -m venv .venv && . .venv/bin/activate).
#
#   bash scripts/install.sh         torch (if missing) and the six packages, editable
#   bash scripts/install.sh --dev   also the test tools and the peers the tests compare against
#
# detops compiles C++ kernels against the installed torch, so it is installed with
# --no-build-isolation (otherwise pip would fetch a second, multi-GB torch just to build it).
# Set DETOPS_REQUIRE_COMPILED=1 to fail instead of falling back to the pure-PyTorch ops.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python}
pip_install() { "$PY" -m pip install --disable-pip-version-check "$@"; }

if ! "$PY" -c "import torch, torchvision" 2>/dev/null; then
  pip_install "${TORCH_SPEC:-torch==2.14.1}" "${TORCHVISION_SPEC:-torchvision==0.29.1}"
fi
pip_install "setuptools>=64" wheel ninja pybind11

packages=(packages/core packages/ops packages/datasets packages/models packages/engine packages/yolo)
editable=()
for p in "${packages[@]}"; do editable+=(-e "$p"); done
MAX_JOBS=${MAX_JOBS:-2} pip_install --no-build-isolation "${editable[@]}"

if [[ "${1:-}" == "--dev" ]]; then
  pip_install -r requirements-dev.txt
  # MMDetection 3.3.0 and MMYOLO 0.6.0 as CPU references for parity tests (tests/support/mmdet_reference.py):
  # mmcv-lite has no compiled ops, and --no-deps skips mmdet's pin to mmcv<2.2.
  pip_install mmengine==0.10.7 mmcv-lite==2.2.0 terminaltables six prettytable "setuptools>=64,<81"
  pip_install --no-deps mmdet==3.3.0 mmyolo==0.6.0
fi
"$PY" -c "import detops._backend as b; print('detops kernels:', 'compiled' if b.COMPILED else 'PyTorch fallback')"
