# Baseline: the MLLM alone (vision encoder + Q-Former + LLM, no detector,
# no perception tokens or prompt); detection-only images contribute nothing.
from mmengine.config import read_base

with read_base():
    from ..mrmllm.mrmllm_dino_r18_tinyllama_250i_cornershapes import *  # noqa: F401,F403

model.update(variant='mllm_only')  # noqa: F405

# no detector: the VQA metric only (the box metrics need predictions)
from mmengine.evaluator import Evaluator  # noqa: E402

from mmmrmllm.evaluation import VQAAccuracy  # noqa: E402

val_evaluator = dict(type=Evaluator, metrics=[dict(type=VQAAccuracy)])
test_evaluator = corner_evaluator = val_evaluator
