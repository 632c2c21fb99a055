# MR-MLLM with a single-stage, anchor-free detector: FCOS (ResNet-18, FPN,
# GN head) in place of DINO in the tiny MR-MLLM of the main job; CornerShapes
# on a CPU, 1 process x 8 images, 250 iterations. The `detector` dict is a
# plain mmdet model config; MRMLLM picks the single-stage adapter itself, and
# the fusion / feedback widths follow the neck's `out_channels`.
#
# A complete config (README.md, "Why one complete config"): it imports from
# installed packages only, never from the repository's configs/, so the
# project works wherever it is copied. Everything but the detector is the
# main job's joint stage
# (configs/mrmllm/mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes.py).
from mmcv.ops import nms
from mmcv.transforms import LoadImageFromFile
from mmdet.datasets.transforms import LoadAnnotations, Resize
from mmdet.models import FCOS, FPN, DetDataPreprocessor, FCOSHead, ResNet
from mmdet.models.losses import CrossEntropyLoss, FocalLoss, GIoULoss
from mmengine.dataset import ConcatDataset, DefaultSampler
from mmengine.evaluator import Evaluator
from mmengine.hooks import (
    CheckpointHook,
    DistSamplerSeedHook,
    IterTimerHook,
    LoggerHook,
    ParamSchedulerHook,
)
from mmengine.optim import LinearLR, MultiStepLR
from mmengine.runner import IterBasedTrainLoop, LogProcessor, TestLoop, ValLoop
from mmengine.visualization import LocalVisBackend, TensorboardVisBackend
from torch.nn import BatchNorm2d, GroupNorm
from torch.optim import AdamW

from mmmrmllm.datasets import (
    CornerShapesDataset,
    EncoderView,
    MixedRatioSampler,
    MRMLLMJsonDataset,
    PackMRMLLMInputs,
)
from mmmrmllm.datasets.cornershapes import CLASSES
from mmmrmllm.engine.hooks import (
    AnswerLoggingHook,
    ClassCheckHook,
    MRMLLMVisualizationHook,
    RandomStateHook,
)
from mmmrmllm.engine.optimizers import PartwiseClipOptimWrapper
from mmmrmllm.evaluation import CornerRecall, MRMLLMCocoMetric, VQAAccuracy
from mmmrmllm.models import (
    MRMLLM,
    HFVisionEncoder,
    LLMHead,
    MRMLLMDataPreprocessor,
    PerceptionEncoder,
    PerceptionFeedback,
    PerceptionPromptGenerator,
    SharedQueryFusion,
)
from mmmrmllm.visualization import MRMLLMVisualizer

default_scope = 'mmmrmllm'

# ---- data: CornerShapes (python tools/misc/generate_cornershapes.py) ----
data_root = 'data/cornershapes/'
# the package's classes (CLASSES is imported lazily: `.build()` makes it
# the tuple itself)
class_names = list(CLASSES.build())
num_classes = len(class_names)
det_scale = (128, 128)
enc_scale = (64, 64)
pipeline = [
    dict(type=LoadImageFromFile),
    dict(type=LoadAnnotations, with_bbox=True),
    dict(type=EncoderView, scale=enc_scale),
    dict(type=Resize, scale=det_scale, keep_ratio=True),
    dict(type=PackMRMLLMInputs),
]
# det_train (boxes and questions) and vqa_train (questions only), 1 : 1
# every split: a JSON file (+ its questions) under data_root, images there
split = dict(type=CornerShapesDataset, data_root=data_root,
             data_prefix=dict(img=''))
det_train = dict(
    split,
    ann_file='annotations/det_train.json',
    question_file='questions/det_train.json',
    filter_cfg=dict(filter_empty_gt=False),
    pipeline=pipeline)
vqa_train = dict(
    split,
    type=MRMLLMJsonDataset,
    ann_file='questions/vqa_train.json',
    pipeline=pipeline)
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type=MixedRatioSampler, ratios=[1, 1]),
    dataset=dict(type=ConcatDataset, datasets=[det_train, vqa_train]))
val_dataset = dict(
    split,
    ann_file='annotations/val.json',
    question_file='questions/val.json',
    test_mode=True,
    pipeline=pipeline)
# the corner-case split, swapped in for val by `tools/test.py
# --cfg-options` or the demo's evaluation
corner_dataset = dict(
    val_dataset,
    ann_file='annotations/corner.json',
    question_file='questions/corner.json')
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type=DefaultSampler, shuffle=False),
    dataset=val_dataset)
test_dataloader = val_dataloader
# detection (COCO mAP on the split's own annotations, corner/common recall)
# and VQA
val_evaluator = dict(
    type=Evaluator,
    metrics=[
        dict(
            type=MRMLLMCocoMetric,
            ann_file=data_root + val_dataset['ann_file'],
            metric='bbox'),
        dict(type=CornerRecall),
        dict(type=VQAAccuracy),
    ])
corner_evaluator = dict(
    val_evaluator,
    metrics=[
        dict(val_evaluator['metrics'][0],
             ann_file=data_root + corner_dataset['ann_file'])
    ] + val_evaluator['metrics'][1:])
test_evaluator = val_evaluator

# ---- model ---------------------------------------------------------------
# FCOS trains from scratch here: the main job's pretrained DINO does not fit
# it (set model.detector_checkpoint to an mmdet FCOS checkpoint to start
# from one).
detector = dict(
    type=FCOS,
    data_preprocessor=dict(
        type=DetDataPreprocessor,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        type=ResNet,
        depth=18,
        num_stages=4,
        out_indices=(1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type=BatchNorm2d, requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=None),
    neck=dict(
        type=FPN,
        in_channels=[128, 256, 512],
        out_channels=128,
        start_level=0,
        add_extra_convs='on_output',
        num_outs=4,
        relu_before_extra_convs=True),
    bbox_head=dict(
        type=FCOSHead,
        num_classes=num_classes,
        in_channels=128,
        stacked_convs=2,
        feat_channels=128,
        strides=[8, 16, 32, 64],
        regress_ranges=((-1, 32), (32, 64), (64, 128), (128, 1e8)),
        norm_cfg=dict(type=GroupNorm, num_groups=32, requires_grad=True),
        loss_cls=dict(
            type=FocalLoss,
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0),
        loss_bbox=dict(type=GIoULoss, loss_weight=1.0),
        loss_centerness=dict(
            type=CrossEntropyLoss, use_sigmoid=True, loss_weight=1.0)),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type=nms, iou_threshold=0.5),
        max_per_img=100))

model = dict(
    type=MRMLLM,
    variant='joint',
    detector=detector,
    detector_checkpoint=None,
    class_names=class_names,
    data_preprocessor=dict(
        type=MRMLLMDataPreprocessor,
        # CLIP normalisation of the encoder view
        enc=dict(
            mean=[122.771, 116.746, 104.094],
            std=[68.501, 66.632, 70.323],
            bgr_to_rgb=True)),
    # a small CLIP-style ViT and a 2-layer Q-Former, from scratch
    vision_encoder=dict(
        type=HFVisionEncoder,
        model_cfg=dict(
            model_type='clip_vision_model',
            hidden_size=128,
            intermediate_size=512,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=64,
            patch_size=8),
        frozen=False),
    fusion=dict(
        type=SharedQueryFusion,
        num_queries=16,
        hidden_size=128,
        num_layers=2,
        num_heads=4,
        intermediate_size=512,
        vocab_size=512,
        dropout=0.0,
        attn_dropout=0.0),
    # FCOS keeps its 4 feature levels for the feedback path
    feedback=dict(type=PerceptionFeedback, num_levels=4, num_heads=8),
    perception_encoder=dict(type=PerceptionEncoder, embed_dims=128),
    # the prompt the main job's language stage taught its Llama to read
    prompt_generator=dict(
        type=PerceptionPromptGenerator,
        template='{counts}Objects: {objects}.\n',
        counts_template='Counts: {counts}. ',
        count_template='{name} {count}',
        object_template='{box} {name}',
        separator=', ',
        score_thr=0.3,
        max_objects=10,
        nms_iou_thr=0.5,
        coord_style='grid',
        grid_size=2,
        with_counts=True,
        counts_all_classes=True,
        sort='x'),
    # the main job's language stage output (`make demo` caches it; or
    # python tools/train.py \
    #     configs/pretrain/llama_4l_1xb12_2500i_cornershapes_text.py)
    llm=dict(
        type=LLMHead,
        name_or_path=(
            'work_dirs/llama_4l_1xb12_2500i_cornershapes_text/hf_model'),
        model_cfg=None,
        tokenizer=None,
        train_mode='full',
        generation_cfg=dict(max_new_tokens=4)),
    # early on, half the det_train images show the LLM a corrupted copy of
    # their ground truth instead of the detections
    gt_perception=dict(
        prob_start=0.5, prob_end=0.0, decay_iters=200,
        corrupt=dict(drop=0.1, add=0.1, jitter=0.05)),
    lambda_det=1.0,
    lambda_lm=1.0,
    use_det_feats_in_fusion=True,
    use_feedback=True,
    use_box_tokens=True,
    use_perception_prompt=True,
    detach_perception=False)

# ---- schedule ------------------------------------------------------------
max_iters = 250
train_cfg = dict(
    type=IterBasedTrainLoop, max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type=ValLoop)
test_cfg = dict(type=TestLoop)
# each part clipped by its own norm (0.1 for the detector); the parts
# trained from scratch take a larger step
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
param_scheduler = [
    dict(type=LinearLR, start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(
        type=MultiStepLR,
        by_epoch=False,
        begin=0,
        end=max_iters,
        milestones=[int(max_iters * 0.85)],
        gamma=0.1)
]

# ---- runtime -------------------------------------------------------------
default_hooks = dict(
    timer=dict(type=IterTimerHook),
    logger=dict(type=LoggerHook, interval=10),
    param_scheduler=dict(type=ParamSchedulerHook),
    checkpoint=dict(
        type=CheckpointHook, interval=100, by_epoch=False, max_keep_ckpts=2),
    sampler_seed=dict(type=DistSamplerSeedHook),
    visualization=dict(
        type=MRMLLMVisualizationHook, draw=True, interval=50,
        max_test_images=None))
custom_hooks = [
    dict(type=AnswerLoggingHook, interval=50),
    # dataset classes vs the model's heads and class_names
    dict(type=ClassCheckHook),
    # a resumed run draws the same random numbers as an uninterrupted one
    dict(type=RandomStateHook),
]
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
visualizer = dict(
    type=MRMLLMVisualizer,
    vis_backends=[dict(type=LocalVisBackend),
                  dict(type=TensorboardVisBackend)],
    name='visualizer')
log_processor = dict(type=LogProcessor, window_size=20, by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
# A rank whose batch has no boxes (or no questions) leaves parts unused.
find_unused_parameters = True
