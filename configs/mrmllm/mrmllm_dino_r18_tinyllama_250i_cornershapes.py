# The tiny MR-MLLM of the main job (`make demo`), joint stage of the staged
# recipe (as in the paper: a pretrained detector + a pretrained LLM, then
# joint training): DINO (ResNet-18) from the detector pre-training stage, a
# 4-layer Llama from the language pre-training stage (a standard Hugging
# Face directory), a small CLIP-style ViT and a 2-layer Q-Former from
# scratch; CornerShapes on a CPU. Build the two inputs first (`make demo`
# does it and caches them):
#   python tools/train.py configs/pretrain/dino_r18_det_250i_cornershapes.py
#   python tools/train.py configs/pretrain/llama_4l_text_2500i_cornershapes.py
from mmengine.config import read_base
from torch.optim import AdamW

from mmmrmllm.engine.optimizers import PartwiseClipOptimWrapper
from mmmrmllm.models import LLMHead

with read_base():
    from .._base_.datasets.cornershapes import *  # noqa: F401,F403
    from .._base_.default_runtime import *  # noqa: F401,F403
    from .._base_.models.cornershapes_prompt import prompt_generator
    from .._base_.models.mrmllm_tiny_dino import *  # noqa: F401,F403
    from .._base_.schedules.schedule_tiny import *  # noqa: F401,F403

model.update(  # noqa: F405
    class_names=['circle', 'square', 'triangle'],
    detector_checkpoint=(
        'work_dirs/dino_r18_det_250i_cornershapes/iter_250.pth'),
    # det_train images carry boxes and questions: early on, half of them
    # show a corrupted copy of their ground truth to the LLM instead of the
    # detections, fading out over the first half of training
    gt_perception=dict(
        prob_start=0.5, prob_end=0.0, decay_iters=200,
        corrupt=dict(drop=0.1, add=0.1, jitter=0.05)))
# replaced, not merged into the base's (a random LLM and a byte tokenizer)
model.prompt_generator = prompt_generator  # noqa: F405
model.llm = dict(  # noqa: F405
    type=LLMHead,
    name_or_path='work_dirs/llama_4l_text_2500i_cornershapes/hf_model',
    train_mode='full',
    generation_cfg=dict(max_new_tokens=4))
# Each part clipped by its own norm: DINO's 0.1 for the detector only (a
# global 0.1 let the detector's gradient, ~30x the LLM's, shrink every other
# part's update below Adam's eps). The parts trained from scratch (vision
# encoder, fusion, feedback, projections) take a larger step than the two
# pretrained ones.
optim_wrapper = dict(
    type=PartwiseClipOptimWrapper,
    optimizer=dict(type=AdamW, lr=2e-4, weight_decay=1e-4),
    clip_grad=dict(
        parts=dict(
            detector=dict(max_norm=0.1),
            llm=dict(max_norm=1.0),
            vision_encoder=dict(max_norm=1.0),
            fusion=dict(max_norm=1.0),
            feedback=dict(max_norm=1.0)),
        default=dict(max_norm=1.0)),
    paramwise_cfg=dict(
        # an LLM with tied input/output embeddings holds one tensor twice
        bypass_duplicate=True,
        custom_keys=dict(
            llm=dict(lr_mult=2.0),
            fusion=dict(lr_mult=5.0),
            vision_encoder=dict(lr_mult=5.0),
            feedback=dict(lr_mult=5.0),
            language_projection=dict(lr_mult=5.0),
            perception_encoder=dict(lr_mult=5.0))))
default_hooks.update(  # noqa: F405
    checkpoint=dict(type='CheckpointHook', interval=100, by_epoch=False,
                    max_keep_ckpts=2),
    logger=dict(type='LoggerHook', interval=10))
randomness = dict(seed=0)
# A rank whose batch has no boxes (or no questions) leaves parts unused.
find_unused_parameters = True
