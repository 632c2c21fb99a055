# The tiny MR-MLLM of the main job (`make demo`), joint stage of the staged
# recipe (as in the paper: a pretrained detector + a pretrained multimodal
# LLM, then joint training): the tiny model of _base_/models/
# mrmllm_tiny_dino.py with DINO (ResNet-18) from the detector pre-training
# stage and a small InstructBLIP from the MLLM pre-training stage (a
# standard Hugging Face InstructBLIP directory: vision tower, Q-Former,
# projection, the 4-layer Llama and its tokenizer), loaded through
# `model.mllm.pretrained` as configs/mrmllm_dino_vicuna.py loads
# instructblip-vicuna-7b. CornerShapes on a CPU, 1 process x 8 images, 250
# iterations. Build the inputs first (`make demo` does it and caches them):
#   python tools/train.py \
#       configs/pretrain/dino_r18_1xb8_250i_cornershapes_det.py
#   python tools/train.py \
#       configs/pretrain/llama_4l_1xb12_2500i_cornershapes_text.py
#   python tools/train.py \
#       configs/pretrain/instructblip_llama_4l_1xb32_2000i_cornershapes_vl.py
from mmengine.config import read_base

from mmmrmllm.engine.optimizers import PartwiseClipOptimWrapper

with read_base():
    from .._base_.datasets.cornershapes import *  # noqa: F401,F403
    from .._base_.default_runtime import *  # noqa: F401,F403
    from .._base_.models.cornershapes_prompt import prompt_generator
    from .._base_.models.cornershapes_vision import vision_tower
    from .._base_.models.mrmllm_tiny_dino import model
    from .._base_.schedules.schedule_tiny import *  # noqa: F401,F403

# the dataset's classes
model.detections.class_names = class_names  # noqa: F405
model.detector.bbox_head.num_classes = num_classes  # noqa: F405
# the pre-training stages' outputs (work_dirs/<stage config's name>)
model.init.detector_checkpoint = (
    'work_dirs/dino_r18_1xb8_250i_cornershapes_det/iter_250.pth')
model.mllm.pretrained = (
    'work_dirs/instructblip_llama_4l_1xb32_2000i_cornershapes_vl/'
    'hf_instructblip')
# the MLLM stage's vision tower (an InstructBLIP one, the same sizes; the
# initialisation matters only to a model trained from scratch, as the CLI
# tests' tiny config)
model.vision_encoder.model_cfg = dict(vision_tower,
                                      image_size=enc_scale[0])  # noqa: F405
# the MLLM stage's Llama and tokenizer come from its directory, instead of
# the base's random Llama and byte tokenizer; it answers in one word, its
# input laid out as InstructBLIP's (visual tokens, then BOS and the prompt)
model.llm.update(
    name_or_path=None,
    model_cfg=None,
    tokenizer=None,
    token_layout='visual_first',
    generation_cfg=dict(max_new_tokens=4))
# InstructBLIP's instruction-aware Q-Former, with the directory's
# qformer_tokenizer; the main job's MLLM stage gives its Q-Former the text
# its LLM reads ('Question: ... Answer:', as InstructBlipProcessor does),
# so the joint stage does too, without the detections' text (InstructBLIP
# would give the whole prompt, which here would carry it)
model.mllm.update(instruction_in_fusion=True, instruction_text='template')
model.prompt_generator = prompt_generator
# det_train images carry boxes and questions: early on, half of them show a
# corrupted copy of their ground truth to the LLM instead of the
# detections, fading out over the first half of training
model.detections.gt_schedule = dict(
    prob_start=0.5, prob_end=0.0, decay_iters=200,
    corrupt=dict(drop=0.1, add=0.1, jitter=0.05))

# Each part clipped by its own norm: DINO's 0.1 for the detector only (a
# global 0.1 let the detector's gradient, ~30x the LLM's, shrink every other
# part's update below Adam's eps). The MLLM's parts come pre-trained (stage
# 1c) and keep about the base step; the couplings, new here, take a larger
# one. Same optimizer as the base schedule.
optim_wrapper.type = PartwiseClipOptimWrapper  # noqa: F405
optim_wrapper.clip_grad = dict(  # noqa: F405
    parts=dict(
        detector=dict(max_norm=0.1),
        llm=dict(max_norm=1.0),
        vision_encoder=dict(max_norm=1.0),
        fusion=dict(max_norm=1.0),
        feedback=dict(max_norm=1.0)),
    default=dict(max_norm=1.0))
optim_wrapper.paramwise_cfg = dict(  # noqa: F405
    # an LLM with tied input/output embeddings holds one tensor twice
    bypass_duplicate=True,
    custom_keys=dict(
        llm=dict(lr_mult=1.0),
        fusion=dict(lr_mult=1.0),
        # the fusion's perception projection and gate are new here
        **{'fusion.p_': dict(lr_mult=5.0)},
        vision_encoder=dict(lr_mult=1.0),
        feedback=dict(lr_mult=5.0),
        language_projection=dict(lr_mult=1.0),
        perception_encoder=dict(lr_mult=5.0)))
default_hooks.checkpoint.update(interval=100, max_keep_ckpts=2)  # noqa: F405
default_hooks.logger.interval = 10  # noqa: F405
randomness = dict(seed=0)
# A rank whose batch has no boxes (or no questions) leaves parts unused.
find_unused_parameters = True
