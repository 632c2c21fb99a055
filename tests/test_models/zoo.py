"""mmdet's own zoo configs, shrunk for a CPU test of the joint model.

:func:`shrink` turns a zoo detector config (``mmdet/.mim/configs``) into a
small one of the same family: no pretrained weights, ResNet-50/101 become
ResNet-18 (the neck's input widths follow), few queries / proposals, the
dataset's number of classes. :data:`FAMILIES` lists one config per
detector family that mmdet 3.3 ships and that trains from box
annotations, with the image size it needs.
"""
import os.path as osp

from mmengine.config import Config

RESNET_WIDTHS = {18: [64, 128, 256, 512], 34: [64, 128, 256, 512]}

# family -> (zoo config, image size)
FAMILIES = {
    'retinanet': ('retinanet/retinanet_r50_fpn_1x_coco.py', 64),
    'faster_rcnn': ('faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', 64),
    'cascade_rcnn': ('cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py', 64),
    'fcos': ('fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py', 64),
    'atss': ('atss/atss_r50_fpn_1x_coco.py', 64),
    'gfl': ('gfl/gfl_r50_fpn_1x_coco.py', 64),
    'paa': ('paa/paa_r50_fpn_1x_coco.py', 64),
    'vfnet': ('vfnet/vfnet_r50_fpn_1x_coco.py', 64),
    'tood': ('tood/tood_r50_fpn_1x_coco.py', 64),
    'autoassign': ('autoassign/autoassign_r50-caffe_fpn_1x_coco.py', 64),
    'ddod': ('ddod/ddod_r50_fpn_1x_coco.py', 384),
    'foveabox': ('foveabox/fovea_r50_fpn_4xb4-1x_coco.py', 64),
    'fsaf': ('fsaf/fsaf_r50_fpn_1x_coco.py', 64),
    'free_anchor': ('free_anchor/freeanchor_r50_fpn_1x_coco.py', 64),
    'ghm': ('ghm/retinanet_r50_fpn_ghm-1x_coco.py', 64),
    'sabl': ('sabl/sabl-retinanet_r50_fpn_1x_coco.py', 64),
    'reppoints': ('reppoints/reppoints-moment_r50_fpn_1x_coco.py', 64),
    'centernet': ('centernet/centernet_r18_8xb16-crop512-140e_coco.py', 64),
    'yolov3': ('yolo/yolov3_mobilenetv2_8xb24-320-300e_coco.py', 64),
    'yolof': ('yolof/yolof_r50-c5_8xb8-1x_coco.py', 64),
    'yolox': ('yolox/yolox_tiny_8xb8-300e_coco.py', 64),
    'rtmdet': ('rtmdet/rtmdet_tiny_8xb32-300e_coco.py', 64),
    'ssd': ('ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py', 320),
    'detr': ('detr/detr_r50_8xb2-150e_coco.py', 64),
    'deformable_detr': ('deformable_detr/'
                        'deformable-detr_r50_16xb2-50e_coco.py', 64),
    'conditional_detr': ('conditional_detr/'
                         'conditional-detr_r50_8xb2-50e_coco.py', 64),
    'dab_detr': ('dab_detr/dab-detr_r50_8xb2-50e_coco.py', 64),
    'dino': ('dino/dino-4scale_r50_8xb2-12e_coco.py', 64),
    'ddq_detr': ('ddq/ddq-detr-4scale_r50_8xb2-12e_coco.py', 64),
    'sparse_rcnn': ('sparse_rcnn/sparse-rcnn_r50_fpn_1x_coco.py', 64),
    'mask_rcnn': ('mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', 64),
    'grounding_dino': ('grounding_dino/'
                       'grounding_dino_r50_scratch_8xb2_1x_coco.py', 64),
}

TEXT_WORDS = ('circle square triangle car person dog a the of and . ? , '
              'object thing').split()


def make_tiny_bert(path: str) -> str:
    """A 1-layer BERT text encoder with a WordPiece tokenizer (the
    ``tokenizers`` library), saved to ``path`` for Grounding DINO's
    ``language_model.name`` (no download)."""
    import os

    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing
    from transformers import BertConfig, BertModel, BertTokenizerFast
    if osp.isfile(osp.join(path, 'config.json')):
        return path
    specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
    vocab = {t: i for i, t in enumerate(specials + sorted(set(TEXT_WORDS)))}
    tok = Tokenizer(models.WordPiece(vocab, unk_token='[UNK]'))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = TemplateProcessing(
        single='[CLS] $A [SEP]', pair='[CLS] $A [SEP] $B [SEP]',
        special_tokens=[('[CLS]', vocab['[CLS]']),
                        ('[SEP]', vocab['[SEP]'])])
    fast = BertTokenizerFast(tokenizer_object=tok, unk_token='[UNK]',
                             sep_token='[SEP]', pad_token='[PAD]',
                             cls_token='[CLS]', mask_token='[MASK]')
    os.makedirs(path, exist_ok=True)
    fast.save_pretrained(path)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(vocab), hidden_size=32,
                         num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64,
                         max_position_embeddings=64),
              add_pooling_layer=False).save_pretrained(path)
    return path


def zoo_dir() -> str:
    import mmdet
    return osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')


def _set_classes(node, num_classes, under_rpn=False):
    if isinstance(node, dict):
        if 'num_classes' in node and not under_rpn:
            node['num_classes'] = num_classes
        for key, value in node.items():
            _set_classes(value, num_classes, under_rpn or key == 'rpn_head')
    elif isinstance(node, (list, tuple)):
        for value in node:
            _set_classes(value, num_classes, under_rpn)


def _small(node, key, value):
    """Cap ``node[key]`` at ``value`` wherever it appears below ``node``."""
    if isinstance(node, dict):
        if isinstance(node.get(key), (int, float)) and not isinstance(
                node[key], bool) and node[key] > value:
            node[key] = value
        for v in node.values():
            _small(v, key, value)
    elif isinstance(node, (list, tuple)):
        for v in node:
            _small(v, key, value)


def shrink(rel_path: str, num_classes: int = 3,
           text_encoder: str = None) -> dict:
    """A zoo detector config, made small (see module doc);
    ``text_encoder``: a local BERT directory for text-conditioned
    detectors (:func:`make_tiny_bert`)."""
    cfg = Config.fromfile(osp.join(zoo_dir(), rel_path)).model.to_dict()
    if 'language_model' in cfg:
        cfg['language_model']['name'] = text_encoder
    bb = cfg['backbone']
    bb['init_cfg'] = None
    bb.pop('pretrained', None)
    if bb['type'] in ('ResNet', 'ResNetV1d') and bb.get('depth', 0) > 34:
        bb['depth'] = 18
        widths = RESNET_WIDTHS[18]
        out = bb.get('out_indices', (0, 1, 2, 3))
        necks = cfg.get('neck')
        neck = necks[0] if isinstance(necks, list) else necks
        if isinstance(neck, dict) and 'in_channels' in neck:
            if isinstance(neck['in_channels'], (list, tuple)):
                neck['in_channels'] = [widths[i] for i in out]
            else:
                neck['in_channels'] = widths[out[-1]]
    _set_classes(cfg, num_classes)
    # untrained heads score below the zoo's thresholds: keep every box
    _small(cfg, 'score_thr', 0)
    for key, value in (('num_queries', 10), ('num_proposals', 10),
                       ('max_per_img', 10), ('nms_pre', 100),
                       ('num_layers', 1), ('num_dn_queries', 8),
                       ('feedforward_channels', 64), ('num', 32),
                       ('pre_topk', 50), ('num_cp', 0)):
        _small(cfg, key, value)
    if cfg['type'] == 'SparseRCNN':  # 6 stages -> 2
        roi = cfg['roi_head']
        roi['num_stages'] = 2
        roi['stage_loss_weights'] = [1.0] * 2
        roi['bbox_head'] = roi['bbox_head'][:2]
        cfg['train_cfg']['rcnn'] = cfg['train_cfg']['rcnn'][:2]
    if cfg['type'] == 'DDQDETR':
        # its distinct-query selection reads the attention masks of the
        # decoder layers after the first: at least 2 layers
        cfg['decoder']['num_layers'] = 2
    pre = cfg.get('data_preprocessor', {})
    pre.pop('batch_augments', None)
    return cfg
