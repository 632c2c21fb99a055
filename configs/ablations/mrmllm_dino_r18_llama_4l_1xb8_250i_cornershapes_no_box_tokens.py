# Ablation of the tiny MR-MLLM: no BoxTokenEncoder box/label tokens.
from mmengine.config import read_base

with read_base():
    from ..mrmllm.mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes import *  # noqa: E501,F401,F403

model.couplings.box_tokens = False  # noqa: F405
