# mmdet's Grounding DINO (Swin-T, the detector of LLMDet) as a plain mmdet
# model dict, derived from the DINO-4scale base: same transformer, plus the
# BERT text encoder, the text/image fusion layers and the contrastive head.
# The text prompt is the dataset's class names (GroundingDINOAdapter).
from mmdet.models import GroundingDINO, GroundingDINOHead, SwinTransformer
from mmdet.models.language_models import BertModel
from mmdet.models.task_modules import BinaryFocalLossCost
from mmengine.config import read_base

with read_base():
    from .dino_4scale_r50 import detector as dino
    from .dino_4scale_r50 import embed_dims, num_classes

# (copied part by part, so that DINO's own dict stays as it is)
detector = dict(
    type=GroundingDINO,
    num_queries=dino['num_queries'],
    with_box_refine=dino['with_box_refine'],
    as_two_stage=dino['as_two_stage'],
    positional_encoding=dino['positional_encoding'],
    dn_cfg=dino['dn_cfg'],
    test_cfg=dino['test_cfg'],
    # a local BERT directory (bert-base-uncased's save_pretrained)
    language_model=dict(
        type=BertModel,
        name='checkpoints/bert-base-uncased',
        pad_to_max=False,
        use_sub_sentence_represent=True,
        special_tokens_list=['[CLS]', '[SEP]', '.', '?'],
        add_pooling_layer=False),
    data_preprocessor=dict(dino['data_preprocessor'], pad_mask=False),
    backbone=dict(
        type=SwinTransformer,
        embed_dims=96,
        depths=[2, 2, 6, 2],
        num_heads=[3, 6, 12, 24],
        window_size=7,
        mlp_ratio=4,
        qkv_bias=True,
        qk_scale=None,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.2,
        patch_norm=True,
        out_indices=(1, 2, 3),
        with_cp=True,
        convert_weights=False),
    neck=dict(dino['neck'], in_channels=[192, 384, 768], bias=True),
    encoder=dict(
        dino['encoder'],
        # mmdet's config checkpoints 6 encoder layers with fairscale (not a
        # dependency here); set num_cp=6 after `pip install fairscale`
        num_cp=0,
        text_layer_cfg=dict(
            self_attn_cfg=dict(
                num_heads=4, embed_dims=embed_dims, dropout=0.0),
            ffn_cfg=dict(
                embed_dims=embed_dims,
                feedforward_channels=1024,
                ffn_drop=0.0)),
        fusion_layer_cfg=dict(
            v_dim=embed_dims,
            l_dim=embed_dims,
            embed_dim=1024,
            num_heads=4,
            init_values=1e-4)),
    decoder=dict(
        dino['decoder'],
        layer_cfg=dict(
            dino['decoder']['layer_cfg'],
            cross_attn_text_cfg=dict(
                embed_dims=embed_dims, num_heads=8, dropout=0.0),
            cross_attn_cfg=dict(
                embed_dims=embed_dims, num_heads=8, dropout=0.0))),
    bbox_head=dict(
        dino['bbox_head'],
        type=GroundingDINOHead,
        num_classes=num_classes,
        contrastive_cfg=dict(max_text_len=256, log_scale=0.0, bias=False)),
    # DINO's matching, with the binary focal cost of a contrastive head
    train_cfg=dict(
        assigner=dict(
            dino['train_cfg']['assigner'],
            match_costs=[dict(type=BinaryFocalLossCost, weight=2.0)] +
            dino['train_cfg']['assigner']['match_costs'][1:])))
