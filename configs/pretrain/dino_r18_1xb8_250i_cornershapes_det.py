# Stage 1a of the main job: detector pre-training, the project's stand-in
# for a COCO-pretrained DINO. The tiny DINO (ResNet-18, from scratch) learns
# from det_train's boxes alone (common looks), 1 process x 8 images, 250
# iterations; its checkpoint enters the joint stage through
# `model.init.detector_checkpoint`, the path that loads an mmdet zoo
# checkpoint.
from mmengine.config import read_base
from mmengine.dataset import DefaultSampler

with read_base():
    from .._base_.datasets.cornershapes import *  # noqa: F401,F403
    from .._base_.default_runtime import *  # noqa: F401,F403
    from .._base_.models.mrmllm_tiny_dino import model
    from .._base_.schedules.schedule_tiny import *  # noqa: F401,F403

# the dataset's classes
model.variant = 'detector_only'  # noqa: F405
model.detections.class_names = class_names  # noqa: F405
model.detector.bbox_head.num_classes = num_classes  # noqa: F405
train_dataloader.sampler = dict(type=DefaultSampler, shuffle=True)  # noqa: F405,E501
train_dataloader.dataset = det_train  # noqa: F405
default_hooks.checkpoint.update(  # noqa: F405
    interval=max_iters, max_keep_ckpts=1)  # noqa: F405
# no LLM: the box metric only, the COCO mAP (val questions not loaded)
val_evaluator.metrics = val_evaluator.metrics[:1]  # noqa: F405
test_evaluator = val_evaluator  # noqa: F405
val_dataloader.dataset.question_file = None  # noqa: F405
randomness = dict(seed=0)
