# MR-MLLM at paper scale, stage 1, alignment: configs/mrmllm_dino_vicuna.py
# (stage 2) with the detector kept as loaded. The detector, the vision
# tower and the LLM are frozen and the LM loss does not reach the detector;
# the fusion, language projection, box tokens and feedback gates learn.
#
#   bash tools/dist_train.sh configs/mrmllm/<this file> 8
from mmengine.config import read_base

with read_base():
    from ..mrmllm_dino_vicuna import *  # noqa: F401,F403

model.couplings.detach_det_feats = True  # noqa: F405
optim_wrapper.paramwise_cfg.custom_keys.detector.lr_mult = 0.0  # noqa: F405
