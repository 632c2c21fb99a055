# A very small MR-MLLM for the CLI tests (tests/test_tools/test_cli.py):
# the main-job config with 64-px images, a 20-query DINO (1 encoder /
# 2 decoder layers), 1-layer Q-Former / ViT / Llama (the generated
# subword tokenizer), 8 iterations. Run from a folder holding
# data/cornershapes/.
from mmengine.config import read_base

with read_base():
    from ....configs.mrmllm.mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes import *  # noqa: F401,F403,E501

from mmcv.transforms import LoadImageFromFile
from mmdet.datasets.transforms import LoadAnnotations, Resize
from mmengine.dataset import ConcatDataset, DefaultSampler
from mmengine.optim import LinearLR

from mmmrmllm.datasets import EncoderView, MixedRatioSampler, PackMRMLLMInputs
from mmmrmllm.models import LLMHead

det_scale = (64, 64)
enc_scale = (32, 32)
pipeline = [
    dict(type=LoadImageFromFile),
    dict(type=LoadAnnotations, with_bbox=True),
    dict(type=EncoderView, scale=enc_scale),
    dict(type=Resize, scale=det_scale, keep_ratio=True),
    dict(type=PackMRMLLMInputs),
]
det_train.update(pipeline=pipeline)  # noqa: F405
vqa_train.update(pipeline=pipeline)  # noqa: F405
val_dataset.update(pipeline=pipeline)  # noqa: F405
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type=MixedRatioSampler, ratios=[3, 1]),
    dataset=dict(type=ConcatDataset, datasets=[det_train, vqa_train]))  # noqa: F405,E501
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type=DefaultSampler, shuffle=False),
    dataset=val_dataset)  # noqa: F405
test_dataloader = val_dataloader

detector = model.detector  # noqa: F405
detector.num_queries = 20
detector.backbone.base_channels = 16
detector.neck.in_channels = [32, 64, 128]
detector.encoder.num_layers = 1
detector.encoder.layer_cfg.ffn_cfg.feedforward_channels = 256
detector.decoder.num_layers = 2
detector.decoder.layer_cfg.ffn_cfg.feedforward_channels = 256
detector.dn_cfg.group_cfg.num_dn_queries = 10
detector.test_cfg.max_per_img = 20
model.vision_encoder.model_cfg.update(  # noqa: F405
    hidden_size=64, intermediate_size=128, num_hidden_layers=1,
    num_attention_heads=2, image_size=32, patch_size=8)
model.fusion.update(  # noqa: F405
    num_queries=4, hidden_size=64, num_layers=1, num_heads=2,
    intermediate_size=128, vocab_size=256)
model.feedback.num_heads = 4  # noqa: F405
model.perception_encoder.embed_dims = 64  # noqa: F405
# no pre-training stages here: the detector, the MLLM's vision tower and
# Q-Former and a 1-layer Llama (with the tokenizer generated next to the
# data, also the Q-Former's instruction tokenizer) start from scratch
model.init.detector_checkpoint = None  # noqa: F405
model.mllm.pretrained = None  # noqa: F405
model.llm = dict(  # noqa: F405
    type=LLMHead,
    model_cfg=dict(
        model_type='llama', vocab_size=256, hidden_size=64,
        intermediate_size=128, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=512,
        bos_token_id=0, eos_token_id=1, pad_token_id=2),
    tokenizer=data_root + 'tokenizer',  # noqa: F405
    train_mode='full',
    token_layout='visual_first',
    generation_cfg=dict(max_new_tokens=4),
    # explicit, so that a test can point it at a missing weights directory
    # (`--cfg-options model.llm.name_or_path=DIR model.llm.model_cfg=None`)
    name_or_path=None)

max_iters = 8
train_cfg.update(max_iters=max_iters, val_interval=max_iters)  # noqa: F405
param_scheduler = [
    dict(type=LinearLR, start_factor=0.1, by_epoch=False, begin=0, end=4),
]
default_hooks.checkpoint.update(interval=2, max_keep_ckpts=10)  # noqa: F405
default_hooks.logger.interval = 1  # noqa: F405
default_hooks.visualization.update(draw=True, interval=1)  # noqa: F405
log_processor.update(window_size=1)  # noqa: F405
