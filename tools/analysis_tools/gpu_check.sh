#!/usr/bin/env bash
# One command on a GPU machine (torch only; nothing downloaded, no
# OpenMMLab needed there): the paper-scale stand-in for a few steps of
# batch 2 in bf16, its step time and peak memory next to the memory plan's
# prediction, in gpu_check.json. The plan (1 GPU, DDP = nothing sharded)
# comes from docs/gpu_check_plan.json, made where OpenMMLab is installed:
#   python tools/analysis_tools/memory_plan.py configs/mrmllm_dino_vicuna.py \
#       --gpus 1 --strategy ddp --json docs/gpu_check_plan.json
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
OUT=${1:-gpu_check.json}
timeout 480 "$PY" tools/analysis_tools/gpu_check.py --out "$OUT" \
    --plan tools/analysis_tools/gpu_check_plan.json --steps 4 --batch 2
