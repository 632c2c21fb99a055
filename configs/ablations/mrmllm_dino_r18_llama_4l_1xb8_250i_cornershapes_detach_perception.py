# Ablation of the tiny MR-MLLM: the LM loss does not train the detector.
from mmengine.config import read_base

with read_base():
    from ..mrmllm.mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes import *  # noqa: E501,F401,F403

model.couplings.detach_det_feats = True  # noqa: F405
