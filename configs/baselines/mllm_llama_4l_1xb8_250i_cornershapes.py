# Baseline: the MLLM alone, InstructBLIP fine-tuned - what a user would pick
# instead of MR-MLLM: the MLLM stage's InstructBLIP directory (vision
# tower, Q-Former, projection and Llama, loaded through
# `model.mllm.pretrained` as in the joint config) fine-tuned on the joint
# stage's data for the same iterations; no detector, no perception tokens
# or prompt; detection-only images contribute nothing.
from mmengine.config import read_base

with read_base():
    from ..mrmllm.mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes import *  # noqa: F401,F403,E501

model.update(variant='mllm_only')  # noqa: F405

# no detector: the VQA metric only (the box metrics need predictions)
val_evaluator.metrics = val_evaluator.metrics[2:]  # noqa: F405
corner_evaluator.metrics = corner_evaluator.metrics[2:]  # noqa: F405
test_evaluator = val_evaluator  # noqa: F405
