# MR-MLLM with a single-stage, anchor-free detector: FCOS (ResNet-18, FPN,
# GN head) in place of DINO in the tiny MR-MLLM of the main job; CornerShapes
# on a CPU, 1 process x 8 images, 250 iterations. Only the `detector` dict
# changes -- a plain mmdet model config; MRMLLM picks the single-stage
# adapter itself, and the fusion / feedback widths follow the neck's
# `out_channels`.
#
# The project inherits the main job's joint stage through the installed
# package (`mmmrmllm.configs`, as mmdet projects inherit `mmdet.configs`),
# not through a path into the repository, so it works wherever the project
# folder is copied (README.md, "How the config inherits").
from mmcv.ops import nms
from mmdet.models import FCOS, FPN, FCOSHead
from mmdet.models.losses import CrossEntropyLoss, FocalLoss, GIoULoss
from mmengine.config import read_base
from torch.nn import GroupNorm

with read_base():
    from mmmrmllm.configs.mrmllm.mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes import *  # noqa: E501,F401,F403

main_detector = model.detector  # noqa: F405
model.detector = dict(  # noqa: F405
    type=FCOS,
    # the main job's image normalisation (FCOS pads to 32) and ResNet-18
    data_preprocessor=dict(main_detector.data_preprocessor,
                           pad_size_divisor=32),
    backbone=main_detector.backbone,
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
        num_classes=num_classes,  # noqa: F405
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
# the main job's pretrained DINO does not fit FCOS: FCOS trains from scratch
# here (set model.init.detector_checkpoint to an mmdet FCOS checkpoint to
# start from one)
model.init.detector_checkpoint = None  # noqa: F405
# FCOS keeps its feature levels (4 here) for the feedback path
model.feedback.update(num_levels=4)  # noqa: F405
