# Stage 1b of the main job: language pre-training. A 4-layer Llama (hidden
# 128) learns from text alone - perception prompts written from the
# ground truth of generated scenes, the benchmark's questions and answers -
# to read a perception prompt. HFExportHook saves it as a standard Hugging
# Face directory (config + weights + tokenizer) in <work_dir>/hf_model,
# which the joint stage loads through LLMHead(name_or_path=...) exactly as
# it would load Vicuna: the project's stand-in for a pretrained LLM.
# 1 process x 12 scenes, 2500 iterations.
from mmengine.config import read_base
from mmengine.dataset import DefaultSampler, pseudo_collate
from mmengine.evaluator import Evaluator
from mmengine.optim import CosineAnnealingLR, LinearLR, OptimWrapper
from mmengine.runner import IterBasedTrainLoop, TestLoop, ValLoop
from mmengine.visualization import Visualizer
from torch.optim import AdamW

from mmmrmllm.datasets import CornerShapesTextDataset
from mmmrmllm.engine.hooks import HFExportHook, RandomStateHook
from mmmrmllm.evaluation import VQAAccuracy
from mmmrmllm.models import LanguagePretrainer, LLMHead

with read_base():
    from .._base_.datasets.cornershapes import data_root
    from .._base_.default_runtime import *  # noqa: F401,F403
    from .._base_.models.cornershapes_prompt import prompt_generator

max_iters = 2500
batch_size = 12

model = dict(
    type=LanguagePretrainer,
    # next-token loss on the prompt too (plain language modelling): the
    # look-ups form from every token, not one answer token per sequence
    text_loss_weight=1.0,
    llm=dict(
        type=LLMHead,
        model_cfg=dict(
            model_type='llama',
            vocab_size=256,
            hidden_size=128,
            intermediate_size=256,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=4,
            max_position_embeddings=512,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=2,
            tie_word_embeddings=True),
        tokenizer=data_root + 'tokenizer',
        train_mode='full',
        generation_cfg=dict(max_new_tokens=4)))

# ~12 scenes x ~4 questions = ~50 question sequences per step; every scene
# is new (index-keyed generator), so the LM cannot memorise answers. The
# first 1500 iterations ask only the look-up questions (a curriculum).
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type=DefaultSampler, shuffle=False),
    collate_fn=dict(type=pseudo_collate),
    dataset=dict(
        type=CornerShapesTextDataset,
        prompt_generator=prompt_generator,
        num_samples=10_000_000,
        seed=0,
        corrupt_prob=0.1,
        lookup_first=1500 * batch_size))
# the benchmark's val split with ground-truth objects in the prompt
val_dataloader = dict(
    train_dataloader,
    batch_size=32,
    dataset=dict(
        type=CornerShapesTextDataset,
        prompt_generator=prompt_generator,
        data_root=data_root,
        ann_file='annotations/val.json',
        question_file='questions/val.json'))
test_dataloader = val_dataloader
val_evaluator = dict(type=Evaluator, metrics=[dict(type=VQAAccuracy)])
test_evaluator = val_evaluator

train_cfg = dict(
    type=IterBasedTrainLoop, max_iters=max_iters, val_interval=250)
val_cfg = dict(type=ValLoop)
test_cfg = dict(type=TestLoop)
optim_wrapper = dict(
    type=OptimWrapper,
    optimizer=dict(type=AdamW, lr=3e-3, weight_decay=0.01),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type=LinearLR, start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type=CosineAnnealingLR, by_epoch=False, begin=100, end=max_iters,
         T_max=max_iters - 100, eta_min=0.0),
]

# the runtime of the other stages, for a text-only model: no images to draw,
# no sample answers to log, no classes to check; the LLM exported as a
# Hugging Face directory
default_hooks.logger.interval = 50  # noqa: F405
default_hooks.checkpoint.update(interval=500, max_keep_ckpts=1)  # noqa: F405
default_hooks.pop('visualization')  # noqa: F405
custom_hooks = [dict(type=HFExportHook), dict(type=RandomStateHook)]
visualizer.type = Visualizer  # noqa: F405
log_processor.window_size = 50  # noqa: F405
randomness = dict(seed=0)
