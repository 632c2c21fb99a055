# Stage 1a of the main job: detector pre-training, the project's stand-in
# for a COCO-pretrained DINO. The tiny DINO (ResNet-18, from scratch) learns
# from det_train's boxes alone (common looks); its checkpoint enters the
# joint stage through `model.detector_checkpoint`, the path that loads an
# mmdet zoo checkpoint.
from mmengine.config import read_base
from mmengine.dataset import DefaultSampler

with read_base():
    from .._base_.datasets.cornershapes import *  # noqa: F401,F403
    from .._base_.default_runtime import *  # noqa: F401,F403
    from .._base_.models.mrmllm_tiny_dino import *  # noqa: F401,F403
    from .._base_.schedules.schedule_tiny import *  # noqa: F401,F403

max_iters = 250
model.update(  # noqa: F405
    variant='detector_only', class_names=['circle', 'square', 'triangle'])
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type=DefaultSampler, shuffle=True),
    dataset=det_train)  # noqa: F405
train_cfg.update(max_iters=max_iters, val_interval=max_iters)  # noqa: F405
optim_wrapper.pop('paramwise_cfg')  # noqa: F405
param_scheduler[1].update(  # noqa: F405
    end=max_iters, milestones=[int(max_iters * 0.85)])
default_hooks.update(  # noqa: F405
    checkpoint=dict(type='CheckpointHook', interval=max_iters,
                    by_epoch=False, max_keep_ckpts=1),
    logger=dict(type='LoggerHook', interval=20))
val_evaluator = dict(  # noqa: F405
    type='Evaluator',
    metrics=[
        dict(type='MRMLLMCocoMetric',
             ann_file=data_root + 'annotations/val.json',  # noqa: F405
             metric='bbox')])
test_evaluator = val_evaluator
val_dataloader.dataset.update(question_file=None)  # noqa: F405
randomness = dict(seed=0)
