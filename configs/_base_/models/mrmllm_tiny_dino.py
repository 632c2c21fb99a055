# A tiny MR-MLLM for CPU runs and the benchmark: DINO (ResNet-18, 2 encoder
# + 3 decoder layers, 100 queries) + a small CLIP-style ViT + a 2-layer
# Q-Former + a 2-layer Llama with the built-in byte tokenizer, all from
# scratch (no weights needed). Images: detector view ~128 px, encoder 64 px.
# The detector's classes are the dataset's: the config that picks the
# dataset sets `detector.bbox_head.num_classes` and
# `model.detections.class_names`
# (configs/mrmllm/mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes.py).
from mmengine.config import read_base

with read_base():
    from .dino_4scale_r50 import detector
    from .mrmllm import model

# mmdet's DINO-4scale, shrunk: ResNet-18 trained from scratch, 2 encoder /
# 3 decoder layers, 100 queries.
detector.num_queries = 100
detector.backbone.update(depth=18, frozen_stages=-1, norm_eval=False)
detector.backbone.norm_cfg.requires_grad = True
detector.neck.in_channels = [128, 256, 512]
detector.encoder.num_layers = 2
detector.encoder.layer_cfg.ffn_cfg.feedforward_channels = 1024
detector.decoder.num_layers = 3
detector.decoder.layer_cfg.ffn_cfg.feedforward_channels = 1024
detector.dn_cfg.group_cfg.num_dn_queries = 30
detector.test_cfg.max_per_img = 100

model.detector = detector
model.vision_encoder.update(
    model_cfg=dict(
        model_type='clip_vision_model',
        hidden_size=128,
        intermediate_size=512,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=64,
        patch_size=8),
    frozen=False)
model.fusion.update(
    num_queries=16,
    hidden_size=128,
    num_layers=2,
    num_heads=4,
    intermediate_size=512,
    vocab_size=512,
    dropout=0.0,
    attn_dropout=0.0)
model.perception_encoder.embed_dims = 128
model.prompt_generator.update(score_thr=0.3, max_objects=10)
model.llm.update(
    model_cfg=dict(
        model_type='llama',
        vocab_size=259,
        hidden_size=128,
        intermediate_size=512,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=2),
    tokenizer='byte',
    train_mode='full',
    generation_cfg=dict(max_new_tokens=8))
