#!/usr/bin/env bash
# Check that bevt_mm installs into an environment that already has torch, changing no torch or
# CUDA package, and that tools/train.py (a toy BEVT step) and `mim test mmaction2` on a stock
# Swin config with our export run there.
#
# Usage: tools/check_install.sh VENV [TORCH_REQUIREMENT ...]
#   tools/check_install.sh /tmp/venv-t291 torch==2.9.1 torchvision==0.24.1
# VENV is created (python3.11, or $PYTHON) if missing and the requirements are installed first,
# as the user's own stack; then bevt_mm is installed as a user would (ranges only, no
# constraints), with the extras in $EXTRAS (default mmcv-lite,mim,tests; without `mim` the mim
# test is skipped and setuptools is left as it is). A VENV is about 6 GB.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${1:?usage: tools/check_install.sh VENV [TORCH_REQUIREMENT ...]}
shift
PY=$VENV/bin/python
[ -x "$PY" ] || "${PYTHON:-python3.11}" -m venv "$VENV"
if [ $# -gt 0 ]; then
    "$PY" -m pip install -q --upgrade "pip>=23"
    "$PY" -m pip install -q "$@"
fi
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
STACK='^(torch|torchvision|triton|nvidia-[a-z0-9-]+|cuda-[a-z0-9-]+)=='
"$PY" -m pip freeze --all > "$OUT/before.txt"
echo "== the environment's torch stack before:"
grep -iE "$STACK" "$OUT/before.txt" | grep -iE '^(torch|torchvision)==' || echo "   (no torch)"
echo "   ($(grep -ciE "$STACK" "$OUT/before.txt") torch/CUDA packages)"

EXTRAS=${EXTRAS:-mmcv-lite,mim,tests}
echo "== pip install $ROOT[$EXTRAS] (no constraints)"
"$PY" -m pip install -q "$ROOT[$EXTRAS]" 2> "$OUT/pip.err" || { cat "$OUT/pip.err"; exit 1; }
if [[ ",$EXTRAS," == *,mim,* ]]; then
    echo "== pip install --no-deps openmim==0.3.9"
    "$PY" -m pip install -q --no-deps openmim==0.3.9
fi
if ! "$PY" -c "import mmaction.models" 2>/dev/null; then
    echo "== mmaction.models does not import (open-mmlab/mmaction2#2714): packaging/mmaction2-drn-stub"
    "$PY" -m pip install -q --no-deps "$ROOT/packaging/mmaction2-drn-stub"
fi
"$PY" -m pip freeze --all > "$OUT/after.txt"
if ! diff <(grep -iE "$STACK" "$OUT/before.txt") <(grep -iE "$STACK" "$OUT/after.txt"); then
    echo "FAIL: installing bevt_mm changed the torch/CUDA packages above"
    exit 1
fi
echo "== torch/CUDA packages unchanged; added or changed:"
{ diff "$OUT/before.txt" "$OUT/after.txt" || true; } | sed -n 's/^> //p' | tr '\n' ' '; echo
"$PY" -m pip list 2>/dev/null | grep -E '^setuptools ' | sed 's/^/   /'
"$PY" -c "import torch, mmcv, mmengine, mmaction, bevt_mm; print('   torch', torch.__version__, \
'| mmcv', mmcv.__version__, '| mmengine', mmengine.__version__, '| mmaction2', \
mmaction.__version__, '| bevt_mm crash fixes:', bevt_mm.compat.APPLIED)"

echo "== tests/install: packaging checks, tools/train.py toy step, mim test on a stock Swin config"
cd "$ROOT"
BEVT_CHECK_INSTALL=1 "$PY" -m pytest -q -p no:cacheprovider tests/install
