# A tiny MR-MLLM for CPU runs and the benchmark: DINO (ResNet-18, 2 encoder
# + 3 decoder layers, 100 queries) + a small CLIP-style ViT + a 2-layer
# Q-Former + a 2-layer Llama with the built-in byte tokenizer, all from
# scratch (no weights needed). Images: detector view ~128 px, encoder 64 px.
from mmmrmllm.models import (
                             MRMLLM,
                             HFVisionEncoder,
                             LLMHead,
                             MRMLLMDataPreprocessor,
                             PerceptionEncoder,
                             PerceptionFeedback,
                             PerceptionPromptGenerator,
                             SharedQueryFusion,
)

embed_dims = 256
detector = dict(
    type='DINO',
    num_queries=100,
    with_box_refine=True,
    as_two_stage=True,
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=1),
    backbone=dict(
        type='ResNet',
        depth=18,
        num_stages=4,
        out_indices=(1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=None),
    neck=dict(
        type='ChannelMapper',
        in_channels=[128, 256, 512],
        kernel_size=1,
        out_channels=embed_dims,
        act_cfg=None,
        norm_cfg=dict(type='GN', num_groups=32),
        num_outs=4),
    encoder=dict(
        num_layers=2,
        layer_cfg=dict(
            self_attn_cfg=dict(
                embed_dims=embed_dims, num_levels=4, dropout=0.0),
            ffn_cfg=dict(
                embed_dims=embed_dims,
                feedforward_channels=1024,
                ffn_drop=0.0))),
    decoder=dict(
        num_layers=3,
        return_intermediate=True,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=embed_dims, num_heads=8,
                               dropout=0.0),
            cross_attn_cfg=dict(
                embed_dims=embed_dims, num_levels=4, dropout=0.0),
            ffn_cfg=dict(
                embed_dims=embed_dims,
                feedforward_channels=1024,
                ffn_drop=0.0)),
        post_norm_cfg=None),
    positional_encoding=dict(
        num_feats=embed_dims // 2,
        normalize=True,
        offset=0.0,
        temperature=20),
    bbox_head=dict(
        type='DINOHead',
        num_classes=3,
        sync_cls_avg_factor=True,
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=5.0),
        loss_iou=dict(type='GIoULoss', loss_weight=2.0)),
    dn_cfg=dict(
        label_noise_scale=0.5,
        box_noise_scale=1.0,
        group_cfg=dict(dynamic=True, num_groups=None, num_dn_queries=30)),
    train_cfg=dict(
        assigner=dict(
            type='HungarianAssigner',
            match_costs=[
                dict(type='FocalLossCost', weight=2.0),
                dict(type='BBoxL1Cost', weight=5.0, box_format='xywh'),
                dict(type='IoUCost', iou_mode='giou', weight=2.0)
            ])),
    test_cfg=dict(max_per_img=100))

model = dict(
    type=MRMLLM,
    mode='joint',
    detector=detector,
    data_preprocessor=dict(
        type=MRMLLMDataPreprocessor,
        enc=dict(
            mean=[122.771, 116.746, 104.094],
            std=[68.501, 66.632, 70.323],
            bgr_to_rgb=True)),
    vision_encoder=dict(
        type=HFVisionEncoder,
        model_cfg=dict(
            model_type='clip_vision_model',
            hidden_size=128,
            intermediate_size=512,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=64,
            patch_size=8),
        frozen=False),
    fusion=dict(
        type=SharedQueryFusion,
        num_queries=16,
        hidden_size=128,
        num_layers=2,
        num_heads=4,
        intermediate_size=512,
        vocab_size=512,
        dropout=0.0,
        attn_dropout=0.0),
    feedback=dict(type=PerceptionFeedback, num_levels=4, num_heads=8),
    perception_encoder=dict(type=PerceptionEncoder, embed_dims=128),
    prompt_generator=dict(
        type=PerceptionPromptGenerator, score_thr=0.3, max_objects=10),
    llm=dict(
        type=LLMHead,
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
        generation_cfg=dict(max_new_tokens=8)),
    lambda_det=1.0,
    lambda_lm=1.0,
    use_det_feats_in_fusion=True,
    use_feedback=True,
    use_box_tokens=True,
    use_perception_prompt=True,
    detach_perception=False)
