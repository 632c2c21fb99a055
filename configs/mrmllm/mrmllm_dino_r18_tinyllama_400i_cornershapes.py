# The tiny MR-MLLM of the main job (`make demo`): DINO (ResNet-18) + a small
# CLIP-style ViT + 2-layer Q-Former + 2-layer Llama, all from scratch, on
# CornerShapes, on a CPU.
from mmengine.config import read_base

with read_base():
    from .._base_.datasets.cornershapes import *  # noqa: F401,F403
    from .._base_.default_runtime import *  # noqa: F401,F403
    from .._base_.models.mrmllm_tiny_dino import *  # noqa: F401,F403
    from .._base_.schedules.schedule_tiny import *  # noqa: F401,F403

model.update(class_names=['circle', 'square', 'triangle'])  # noqa: F405
default_hooks.update(  # noqa: F405
    checkpoint=dict(type='CheckpointHook', interval=100, by_epoch=False,
                    max_keep_ckpts=2),
    logger=dict(type='LoggerHook', interval=10))
randomness = dict(seed=0)
# A short prompt a 2-layer LLM trained from scratch can learn to read in a
# few hundred steps: per-class counts, then the objects with coarse boxes.
model.prompt_generator.update(  # noqa: F405
    template='{counts}Objects: {objects}.\n',
    counts_template='Counts: {counts}. ',
    object_template='{name} {box}',
    coord_style='int999',
    with_counts=True,
    sort='position')
model.llm.generation_cfg.update(max_new_tokens=10)  # noqa: F405
# A rank whose batch has no boxes (or no questions) leaves parts unused.
find_unused_parameters = True
