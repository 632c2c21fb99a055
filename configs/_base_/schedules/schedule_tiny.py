# Iteration-based schedule for the tiny CPU runs: 250 iterations of 8
# images (~2 s each for the joint model on 2 cores; measured).
from mmengine.optim import LinearLR, MultiStepLR, OptimWrapper
from mmengine.runner import IterBasedTrainLoop, TestLoop, ValLoop
from torch.optim import AdamW

max_iters = 250
train_cfg = dict(
    type=IterBasedTrainLoop, max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type=ValLoop)
test_cfg = dict(type=TestLoop)

optim_wrapper = dict(
    type=OptimWrapper,
    optimizer=dict(type=AdamW, lr=2e-4, weight_decay=1e-4),
    clip_grad=dict(max_norm=0.1, norm_type=2),
    # the language side learns from scratch here and needs a larger step
    paramwise_cfg=dict(
        custom_keys=dict(
            llm=dict(lr_mult=5.0),
            fusion=dict(lr_mult=5.0),
            vision_encoder=dict(lr_mult=5.0),
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
