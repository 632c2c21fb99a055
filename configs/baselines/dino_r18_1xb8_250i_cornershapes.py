# Baseline: the detector alone (same DINO, data and schedule as the tiny
# MR-MLLM); VQA-only images contribute nothing.
from mmengine.config import read_base

with read_base():
    from ..mrmllm.mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes import *  # noqa: F401,F403,E501

# from the detector stage alone: no MLLM to load
model.variant = 'detector_only'  # noqa: F405
model.mllm.pretrained = None  # noqa: F405

# no LLM: the box metrics only (the VQA metric needs answers)
val_evaluator.metrics = val_evaluator.metrics[:2]  # noqa: F405
corner_evaluator.metrics = corner_evaluator.metrics[:2]  # noqa: F405
test_evaluator = val_evaluator  # noqa: F405
