# The tiny CLI config with a deterministic detector, for the test that one
# step of 2 processes x 1 image equals 1 process x 2 images: FCOS (no
# random denoising queries, loss normalisers synced across ranks) with BN in
# eval mode (batch statistics would differ between 1 and 2 images), every
# training image with boxes and questions (no part skipped on a rank), SGD
# without clipping or warm-up (the update is proportional to the gradient,
# so any normalisation difference shows).
from mmengine.config import read_base

with read_base():
    from .mrmllm_tiny_cli import *  # noqa: F401,F403

from mmcv.ops import nms
from mmdet.models import FCOS, FPN, DetDataPreprocessor, FCOSHead, ResNet
from mmdet.models.losses import CrossEntropyLoss, FocalLoss, IoULoss
from mmdet.models.task_modules import MaxIoUAssigner
from mmengine.dataset import DefaultSampler
from mmengine.optim import OptimWrapper
from mmengine.runner import IterBasedTrainLoop
from torch.nn import BatchNorm2d, GroupNorm
from torch.optim import SGD

from mmmrmllm.datasets import CornerShapesDataset

model.detector = dict(  # noqa: F405
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
        base_channels=16,
        num_stages=4,
        out_indices=(1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type=BatchNorm2d, requires_grad=True),
        norm_eval=True,
        style='pytorch',
        init_cfg=None),
    neck=dict(
        type=FPN,
        in_channels=[32, 64, 128],
        out_channels=64,
        start_level=0,
        add_extra_convs='on_output',
        num_outs=3,
        relu_before_extra_convs=True),
    bbox_head=dict(
        type=FCOSHead,
        num_classes=num_classes,  # noqa: F405
        in_channels=64,
        stacked_convs=2,
        feat_channels=64,
        strides=[8, 16, 32],
        regress_ranges=((-1, 16), (16, 32), (32, 1e8)),
        norm_cfg=dict(type=GroupNorm, num_groups=32, requires_grad=True),
        loss_cls=dict(
            type=FocalLoss,
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0),
        loss_bbox=dict(type=IoULoss, loss_weight=1.0),
        loss_centerness=dict(
            type=CrossEntropyLoss, use_sigmoid=True, loss_weight=1.0)),
    train_cfg=dict(
        assigner=dict(
            type=MaxIoUAssigner,
            pos_iou_thr=0.5,
            neg_iou_thr=0.4,
            min_pos_iou=0,
            ignore_iof_thr=-1),
        allowed_border=-1,
        pos_weight=-1,
        debug=False),
    test_cfg=dict(
        nms_pre=100,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type=nms, iou_threshold=0.5),
        max_per_img=20))
# detections above this score go into the prompt: an untrained FCOS scores
# ~0.01, so use a low threshold to exercise the prompt path
model.prompt_generator.score_thr = 0.0  # noqa: F405

train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type=DefaultSampler, shuffle=False),
    dataset=dict(
        type=CornerShapesDataset,
        data_root=data_root,  # noqa: F405
        ann_file='annotations/val.json',
        question_file='questions/val.json',
        data_prefix=dict(img=''),
        pipeline=pipeline))  # noqa: F405
train_cfg = dict(type=IterBasedTrainLoop, max_iters=1)
optim_wrapper = dict(
    type=OptimWrapper, optimizer=dict(type=SGD, lr=0.01), clip_grad=None)
param_scheduler = []
find_unused_parameters = True
default_hooks.checkpoint.interval = 1  # noqa: F405
val_cfg = val_dataloader = val_evaluator = None
# DDP must equal one process: no per-sample random choice of ground truth
# over detections (each rank would draw its own)
model.detections.gt_schedule = None  # noqa: F405
