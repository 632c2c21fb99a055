# Stage 1c of the main job: vision-language pre-training of the MLLM, the
# project's stand-in for InstructBLIP's own pre-training. A small
# InstructBLIP (ViT 2 layers, width 128, 96 px, patch 8; a 2-layer
# Q-Former with 16 queries, instruction-aware; a linear projection) learns
# to feed the language stage's 4-layer Llama:
#   throughout: the region-text loss (region_text_weight): the tower's
#     patch tokens pooled in each object's box pick its `<colour> <shape>`
#     phrase among the batch's (RegionCLIP / GLIP-style grounded phrases),
#     region knowledge of common and corner looks from a dense signal;
#   iterations 0-499: the visual path alone (as BLIP-2's Q-Former stage):
#     vision tower, Q-Former and projection learn to make the soft tokens
#     name the answer in the LLM's word space (soft_answer_weight; the
#     LLM's output head reads them, no LM loss);
#   iterations 500-799: the LLM's loss joins, the LLM frozen (BLIP-2 stage
#     2 / LLaVA stage 1);
#   iterations 800-1999: instruction tuning, the LLM trains too.
# Data: the MLLM's broad world, an unlimited stream of generated images of
# common *and* corner looks (never novel), each with the benchmark's
# question types and sometimes a caption naming every object; one question
# per image, 32 images per step; every object's box with its phrase, as
# grounded web captions (GRIT) give them, for the MLLM only: the
# detector's box-annotated data stays common looks only.
# InstructBLIPExportHook saves the result as a standard Hugging Face
# InstructBLIP directory (<work_dir>/hf_instructblip), which the joint stage
# loads through `model.pretrained_mllm`, as it would load
# instructblip-vicuna-7b. 1 process x 32 images, 2000 iterations. Needs the
# language stage's output first (`make demo` runs and caches both):
#   python tools/train.py \
#       configs/pretrain/llama_4l_1xb12_2500i_cornershapes_text.py
from mmengine.config import read_base
from mmengine.dataset import DefaultSampler
from mmengine.evaluator import Evaluator
from mmengine.optim import CosineAnnealingLR, LinearLR
from mmengine.runner import TestLoop, ValLoop
from torch.optim import AdamW

from mmmrmllm.datasets import (
    CornerShapesDataset,
    CornerShapesImageTextStream,
    EncoderView,
    PackMRMLLMInputs,
)
from mmmrmllm.engine import SkipAheadIterBasedTrainLoop
from mmmrmllm.engine.hooks import (
    FreezeUntilHook,
    InstructBLIPExportHook,
    LossWeightHook,
)
from mmmrmllm.engine.optimizers import PartwiseClipOptimWrapper
from mmmrmllm.evaluation import VQAAccuracy

with read_base():
    from .._base_.datasets.cornershapes import (
        class_names,
        data_root,
        enc_scale,
        test_pipeline,
    )
    from .._base_.default_runtime import *  # noqa: F401,F403
    from .._base_.models.cornershapes_vision import vision_tower
    from .._base_.models.mrmllm_tiny_dino import model

max_iters = 2000
visual_iters = 500
align_iters = 800
batch_size = 32

# the MLLM half of the main job's tiny model, with an InstructBLIP vision
# tower so that its weights have a place in an InstructBLIP directory
model.update(variant='mllm_only', detector=None)
model.detections.class_names = class_names
model.mllm.update(
    instruction_in_fusion=True,
    # InstructBLIP's layout: the Q-Former reads the text the LLM reads
    # ('Question: ... Answer:'), the one text InstructBlipProcessor gives
    # both, so the exported directory answers when called the standard
    # way (its README.md); 'template' leaves out the perception text the
    # joint stage's prompt adds (none here)
    instruction_text='template',
    # the benchmark's tokenizer is the Q-Former's too (its
    # qformer_tokenizer in the exported directory)
    instruction_tokenizer=data_root + 'tokenizer')
model.losses.update(
    # the LLM's output head reads each answer's first token from the soft
    # tokens: the visual path's own target (mmmrmllm/models/soft_answer.py;
    # without it its gradient fades once the LLM trains, docs/main_job.md)
    soft_answer_weight=1.0,
    # the tower's tokens pooled in each object's box pick its phrase among
    # the batch's (mmmrmllm/models/pretraining/region_text.py): region
    # knowledge of common and corner looks, with a dense, direct signal
    region_text_weight=1.0)
model.vision_encoder.model_cfg = dict(vision_tower, image_size=enc_scale[0])
model.llm.update(
    name_or_path='work_dirs/llama_4l_1xb12_2500i_cornershapes_text/hf_model',
    model_cfg=None,
    tokenizer=None,
    train_mode='full',
    token_layout='visual_first',
    generation_cfg=dict(max_new_tokens=4))

stream_pipeline = [
    dict(type=EncoderView, scale=enc_scale),
    dict(type=PackMRMLLMInputs),
]
train_dataloader = dict(
    batch_size=batch_size,
    # the images are generated while the model trains
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type=DefaultSampler, shuffle=False),
    dataset=dict(
        type=CornerShapesImageTextStream,
        pipeline=stream_pipeline,
        num_samples=10_000_000,
        seed=1000,
        # one question (or the caption) per image: the LLM's sequences are
        # the cost, the images hardly, so a batch sees 32 images
        caption_prob=0.1,
        questions_per_image=1,
        # every object's box and `<colour> <shape>`, as grounded captions
        # give them, for the region-text loss
        with_regions=True))
# the benchmark's val split, questions only (the MLLM has no detector)
val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type=DefaultSampler, shuffle=False),
    dataset=dict(
        type=CornerShapesDataset,
        data_root=data_root,
        data_prefix=dict(img=''),
        ann_file='annotations/val.json',
        question_file='questions/val.json',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type=Evaluator, metrics=[dict(type=VQAAccuracy)])
test_evaluator = val_evaluator

# a resumed run skips the trained batches' indices instead of generating
# their images again (the stream is a function of the index)
train_cfg = dict(
    type=SkipAheadIterBasedTrainLoop, max_iters=max_iters, val_interval=500)
val_cfg = dict(type=ValLoop)
test_cfg = dict(type=TestLoop)
# the parts trained from scratch take 1e-3, the pretrained LLM 0.3 of it
optim_wrapper = dict(
    type=PartwiseClipOptimWrapper,
    optimizer=dict(type=AdamW, lr=1e-3, weight_decay=0.01),
    clip_grad=dict(parts=dict(llm=dict(max_norm=1.0)),
                   default=dict(max_norm=1.0)),
    paramwise_cfg=dict(
        bypass_duplicate=True, custom_keys=dict(llm=dict(lr_mult=0.3))))
param_scheduler = [
    dict(type=LinearLR, start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type=CosineAnnealingLR, by_epoch=False, begin=100, end=max_iters,
         T_max=max_iters - 100, eta_min=0.0),
]

default_hooks.logger.interval = 50  # noqa: F405
default_hooks.checkpoint.update(interval=500, max_keep_ckpts=1)  # noqa: F405
default_hooks.visualization.draw = False  # noqa: F405
custom_hooks.extend([  # noqa: F405
    dict(type=LossWeightHook, attr='lambda_lm',
         milestones=[(0, 0.0), (visual_iters, 1.0)]),
    dict(type=FreezeUntilHook, parts=['llm'], until_iter=align_iters),
    dict(type=InstructBLIPExportHook),
])
log_processor.window_size = 50  # noqa: F405
randomness = dict(seed=0)
