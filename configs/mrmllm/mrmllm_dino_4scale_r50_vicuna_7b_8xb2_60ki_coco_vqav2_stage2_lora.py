# MR-MLLM at paper scale, stage 2 with LoRA: configs/mrmllm_dino_vicuna.py
# (stage 2, the detector and the fusion train; the LM loss reaches the
# detector) plus LoRA adapters on the LLM (`lora_cfg` there: r=16 on the
# q/v projections).
#
#   bash tools/dist_train.sh configs/mrmllm/<this file> 8
from mmengine.config import read_base

with read_base():
    from ..mrmllm_dino_vicuna import *  # noqa: F401,F403

model.llm.train_mode = 'lora'  # noqa: F405
