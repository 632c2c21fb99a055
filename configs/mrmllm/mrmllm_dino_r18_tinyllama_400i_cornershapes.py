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
# A prompt a 2-layer LLM trained from scratch learns to read in a few
# hundred steps: the count of every class, then each object with the grid
# cell of its centre in words ("circle top left").
model.prompt_generator.update(  # noqa: F405
    template='{counts}Objects: {objects}.\n',
    counts_template='Counts: {counts}. ',
    object_template='{name} {box}',
    score_thr=0.3,
    nms_iou_thr=0.5,
    coord_style='grid',
    grid_size=2,
    with_counts=True,
    counts_all_classes=True,
    sort='position')
# The word-level tokenizer that tools/misc/generate_cornershapes.py writes
# next to the data (72 words; one token per answer).
model.llm.update(  # noqa: F405
    tokenizer=data_root + 'tokenizer',  # noqa: F405
    model_cfg=dict(
        model_type='llama',
        vocab_size=128,
        hidden_size=256,
        intermediate_size=1024,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=2))
model.llm.generation_cfg.update(max_new_tokens=3)  # noqa: F405
# A rank whose batch has no boxes (or no questions) leaves parts unused.
find_unused_parameters = True
