# MR-MLLM at paper scale: DINO-4scale (ResNet-50) + InstructBLIP's EVA
# ViT-g/14 vision tower + a 32-query Q-Former-shaped SharedQueryFusion +
# Vicuna-7B, on COCO + VQAv2, tested on CODA corner cases; 8 GPUs x 2
# images, 60k iterations.
#
#   python tools/train.py configs/mrmllm_dino_vicuna.py
#   bash tools/dist_train.sh configs/mrmllm_dino_vicuna.py 8
#
# This file is stage 2, mutual reinforcement (joint fine-tuning): the
# detector trains too and the LM loss reaches it through the shared queries
# (couplings.detach_det_feats=False); the vision tower and the LLM stay frozen.
# The other stages are small configs deriving from this one (train them
# the same way):
#   stage 1, alignment: detector, vision tower and LLM frozen; the fusion,
#     language projection, box tokens and feedback gates learn --
#     configs/mrmllm/
#       mrmllm_dino_4scale_r50_vicuna_7b_8xb2_60ki_coco_vqav2_stage1_align.py
#   stage 2 with LoRA adapters on the LLM --
#     configs/mrmllm/
#       mrmllm_dino_4scale_r50_vicuna_7b_8xb2_60ki_coco_vqav2_stage2_lora.py
# (to start one stage from another's weights: `--cfg-options load_from=`).
from mmengine.config import read_base
from mmengine.optim import CosineAnnealingLR, LinearLR
from mmengine.runner import (
    FlexibleRunner,
    IterBasedTrainLoop,
    TestLoop,
    ValLoop,
)
from torch.optim import AdamW

from mmmrmllm.engine import (
    FrozenStateFSDPStrategy,
    PartwiseClipOptimWrapper,
    PartwiseClipOptimWrapperConstructor,
    block_auto_wrap_policy,
)

with read_base():
    from ._base_.datasets.coco_vqav2_coda import *  # noqa: F401,F403
    from ._base_.default_runtime import *  # noqa: F401,F403
    from ._base_.models.dino_4scale_r50 import detector
    from ._base_.models.mrmllm import model

# ---- weight locations (local paths; nothing is downloaded) --------------
# An HF InstructBLIP-Vicuna-7B directory (`save_pretrained`): vision tower,
# Q-Former, language projection, LLM and tokenizer.
instructblip_dir = 'checkpoints/instructblip-vicuna-7b'
# An mmdet DINO-4scale R50 COCO checkpoint.
dino_checkpoint = 'checkpoints/dino-4scale_r50_8xb2-12e_coco.pth'
# -------------------------------------------------------------------------

# InstructBLIP's EVA ViT-g/14 (the vision tower of instructblip-vicuna-7b)
eva_vit_g = dict(
    model_type='instructblip_vision_model',
    hidden_size=1408,
    intermediate_size=6144,
    num_hidden_layers=39,
    num_attention_heads=16,
    image_size=224,
    patch_size=14,
    layer_norm_eps=1e-6,
    qkv_bias=True)
vicuna_7b = dict(
    model_type='llama',
    vocab_size=32001,
    hidden_size=4096,
    intermediate_size=11008,
    num_hidden_layers=32,
    num_attention_heads=32,
    max_position_embeddings=2048,
    rms_norm_eps=1e-6,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2)

model.detector = detector
model.init.detector_checkpoint = dino_checkpoint
# InstructBLIP's input (docs/model.md, "InstructBLIP layout"): the Q-Former
# reads the whole prompt text the LLM reads, tokenised by the directory's
# own BERT tokenizer (instruction_tokenizer=None:
# <instructblip_dir>/qformer_tokenizer). mllm.pretrained implies these; they
# are spelled out so that the stages keep them without it.
model.mllm.update(
    pretrained=instructblip_dir,
    instruction_in_fusion=True,
    instruction_text='prompt')
# InstructBLIP's image processor: OpenAI CLIP's mean/std, unrounded
model.data_preprocessor.enc.update(
    mean=[255 * m for m in (0.48145466, 0.4578275, 0.40821073)],
    std=[255 * s for s in (0.26862954, 0.26130258, 0.27577711)])
model.vision_encoder.update(model_cfg=eva_vit_g, frozen=True)
# laid out like InstructBLIP's Q-Former so its weights load one-to-one
model.fusion.update(
    num_queries=32,
    hidden_size=768,
    num_layers=12,
    num_heads=12,
    intermediate_size=3072,
    cross_attention_frequency=2,
    vocab_size=30523,
    perception_merge='sum')
model.perception_encoder.embed_dims = 256
model.prompt_generator.update(
    score_thr=0.3,
    max_objects=20,
    coord_style='norm',
    with_counts=True,
    drop_rate=0.1)
model.llm.update(
    model_cfg=vicuna_7b,
    tokenizer=instructblip_dir,
    torch_dtype='bfloat16',
    train_mode='frozen',
    # used by train_mode='lora' (the stage 2 LoRA config)
    lora_cfg=dict(r=16, lora_alpha=32, target_modules=['q_proj', 'v_proj']),
    max_length=1024,
    # the soft tokens (and box tokens) first, then BOS + the prompt text, as
    # InstructBLIP (BOS first is token_layout='template')
    token_layout='visual_first',
    # InstructBLIP's short-answer evaluation (LAVIS predict_answers with
    # lavis/projects/instructblip/qa_okvqa_vicuna7b_eval.yaml: num_beams 5,
    # max_len 10, min_len 1, length_penalty -1, and generate's
    # repetition_penalty 1.5); LAVIS feeds inputs_embeds only, so its
    # lengths count new tokens: max/min_new_tokens here (docs/model.md)
    generation_cfg=dict(
        do_sample=False,
        num_beams=5,
        max_new_tokens=10,
        min_new_tokens=1,
        length_penalty=-1.0,
        repetition_penalty=1.5))

max_iters = 60000
train_cfg = dict(
    type=IterBasedTrainLoop, max_iters=max_iters, val_interval=5000)
val_cfg = dict(type=ValLoop)
test_cfg = dict(type=TestLoop)

optim_wrapper = dict(
    type=PartwiseClipOptimWrapper,
    constructor=PartwiseClipOptimWrapperConstructor,
    optimizer=dict(type=AdamW, lr=1e-4, weight_decay=0.05),
    # one norm over all trained parameters (``default``). Not OptimWrapper's
    # clip_grad: under FSDP each rank holds a shard of the gradients and it
    # would clip every rank by its own shard's norm; this wrapper combines
    # the shards' norms (tests/test_engine/test_fsdp.py)
    clip_grad=dict(default=dict(max_norm=1.0), norm_type=2),
    paramwise_cfg=dict(
        custom_keys={
            # stage 1 keeps the detector as loaded (lr_mult=0)
            'detector': dict(lr_mult=0.1, decay_mult=1.0),
        }))
param_scheduler = [
    dict(type=LinearLR, start_factor=0.01, by_epoch=False, begin=0,
         end=1000),
    dict(
        type=CosineAnnealingLR,
        by_epoch=False,
        begin=1000,
        end=max_iters,
        eta_min=1e-6)
]

# 7B on 8 GPUs: FSDP through MMEngine's FlexibleRunner (README, "Memory
# plan"). Frozen and trainable parameters share FSDP units, hence
# use_orig_params. Units are the layers of each stack (>= 1e7 parameters)
# and the bf16 LLM's leaves: a unit around a part called by a method other
# than forward (the detector, the LLM's generate) would hand it sharded
# weights, and a unit holds one dtype (block_auto_wrap_policy). Run on a
# CPU with the tiny model by tests/test_engine/test_fsdp.py.
# FrozenStateFSDPStrategy: MMEngine's FSDPStrategy whose checkpoints leave
# out the frozen weights, as without FSDP.
runner_type = FlexibleRunner
strategy = dict(
    type=FrozenStateFSDPStrategy,
    model_wrapper=dict(
        auto_wrap_policy=dict(
            type=block_auto_wrap_policy, min_num_params=int(1e7)),
        use_orig_params=True),
    state_dict_cfg='full')
default_hooks.checkpoint.interval = 5000  # noqa: F405
auto_scale_lr = dict(enable=False, base_batch_size=16)
