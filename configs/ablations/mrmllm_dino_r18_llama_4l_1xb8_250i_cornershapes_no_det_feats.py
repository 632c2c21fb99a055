# Ablation of the tiny MR-MLLM: detector features left out of the fusion memory
# (Eq. 1 without P_proj).
from mmengine.config import read_base

with read_base():
    from ..mrmllm.mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes import *  # noqa: E501,F401,F403

model.couplings.det_feats_in_fusion = False  # noqa: F405
