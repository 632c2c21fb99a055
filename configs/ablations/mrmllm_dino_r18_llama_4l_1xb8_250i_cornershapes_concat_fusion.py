# Ablation of the tiny MR-MLLM: gated concat fusion instead of the sum of Eq.
# 1.
from mmengine.config import read_base

with read_base():
    from ..mrmllm.mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes import *  # noqa: E501,F401,F403

model.fusion.update(perception_merge='concat')  # noqa: F405
