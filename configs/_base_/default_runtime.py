from mmengine.hooks import (
                            CheckpointHook,
                            DistSamplerSeedHook,
                            IterTimerHook,
                            LoggerHook,
                            ParamSchedulerHook,
)
from mmengine.runner import LogProcessor
from mmengine.visualization import LocalVisBackend, TensorboardVisBackend

from mmmrmllm.engine.hooks import (
    AnswerLoggingHook,
    ClassCheckHook,
    MRMLLMVisualizationHook,
    RandomStateHook,
)
from mmmrmllm.visualization import MRMLLMVisualizer

default_scope = 'mmmrmllm'

default_hooks = dict(
    timer=dict(type=IterTimerHook),
    logger=dict(type=LoggerHook, interval=20),
    param_scheduler=dict(type=ParamSchedulerHook),
    checkpoint=dict(
        type=CheckpointHook, interval=1000, by_epoch=False, max_keep_ckpts=3),
    sampler_seed=dict(type=DistSamplerSeedHook),
    visualization=dict(
        type=MRMLLMVisualizationHook, draw=True, interval=50,
        max_test_images=None))
custom_hooks = [
    dict(type=AnswerLoggingHook, interval=50),
    # dataset classes vs the model's heads and class_names, before every run
    dict(type=ClassCheckHook),
    # a resumed run draws the same random numbers as an uninterrupted one
    dict(type=RandomStateHook),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

# TensorBoard on by default: losses, learning rate, images with boxes and
# the sample answers (AnswerLoggingHook).
vis_backends = [dict(type=LocalVisBackend), dict(type=TensorboardVisBackend)]
visualizer = dict(
    type=MRMLLMVisualizer, vis_backends=vis_backends, name='visualizer')
log_processor = dict(type=LogProcessor, window_size=20, by_epoch=False)

log_level = 'INFO'
load_from = None
resume = False
