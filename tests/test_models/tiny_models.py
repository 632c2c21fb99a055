"""Tiny, offline building blocks shared by the model tests."""
import copy
import os
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from mmmrmllm.models.mrmllm_args import GROUP_DEFAULTS
from mmmrmllm.structures import MRMLLMDataSample

CLASSES = ('circle', 'square', 'triangle')
WORDS = ('a b c the is are what how many which colour color red green blue '
         'yellow one two three four five yes no left right top bottom '
         'circle square triangle car person detected objects no '
         'question answer : ; , . [ ] 0 1 2 3 4 5 6 7 8 9 counts '
         'image shows there of in on').split()

ZOO = {
    'dino': 'dino/dino-4scale_r50_8xb2-12e_coco.py',
    'deformable_detr': 'deformable_detr/deformable-detr_r50_16xb2-50e_coco.py',
    'faster_rcnn': 'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    'retinanet': 'retinanet/retinanet_r50_fpn_1x_coco.py',
    'fcos': 'fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py',
    'rtmdet_tiny': 'rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
}

LLM_CFGS = {
    'llama': dict(model_type='llama', num_key_value_heads=2),
    'qwen2': dict(model_type='qwen2', num_key_value_heads=2),
    'mistral': dict(model_type='mistral', num_key_value_heads=2),
    'gpt2': dict(model_type='gpt2', n_embd=32, n_layer=2, n_head=4,
                 n_positions=256),
}


def zoo_dir():
    import mmdet
    return osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')


def make_tokenizer(path: str, bos: bool = True) -> str:
    """A word-level tokenizer without a pad token, saved to ``path``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast
    if osp.isfile(osp.join(path, 'tokenizer.json')):
        return path
    specials = ['<unk>', '<s>', '</s>']
    vocab = {t: i for i, t in enumerate(specials + sorted(set(WORDS)))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token='<unk>'))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    if bos:
        tok.post_processor = processors.TemplateProcessing(
            single='<s> $A', special_tokens=[('<s>', 1)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token='<s>',
        eos_token='</s>',
        unk_token='<unk>')
    os.makedirs(path, exist_ok=True)
    fast.save_pretrained(path)
    return path


def llm_cfg(arch: str, tokenizer: str, **kwargs) -> dict:
    """A tiny LLMHead config of architecture ``arch``."""
    model_cfg = dict(
        vocab_size=96,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=256,
        bos_token_id=1,
        eos_token_id=2)
    if arch == 'gpt2':
        model_cfg = dict(vocab_size=96, bos_token_id=1, eos_token_id=2)
    model_cfg.update(LLM_CFGS[arch])
    cfg = dict(
        type='LLMHead',
        model_cfg=model_cfg,
        tokenizer=tokenizer,
        generation_cfg=dict(max_new_tokens=4))
    cfg.update(kwargs)
    return cfg


def detector_cfg(name: str, num_classes: int = len(CLASSES)) -> dict:
    """An mmdet zoo config shrunk to ResNet-18 / one layer / few queries."""
    cfg = Config.fromfile(osp.join(zoo_dir(), ZOO[name])).model.to_dict()
    bb = cfg['backbone']
    bb['init_cfg'] = None
    if bb['type'] == 'ResNet':
        bb['depth'] = 18
        chans = [64, 128, 256, 512]
        neck = cfg['neck']
        neck['in_channels'] = [chans[i] for i in bb['out_indices']]
    if name in ('dino', 'deformable_detr'):
        cfg['num_queries'] = 10
        cfg['encoder']['num_layers'] = 1
        cfg['decoder']['num_layers'] = 1
        for part in ('encoder', 'decoder'):
            cfg[part]['layer_cfg']['ffn_cfg']['feedforward_channels'] = 64
        cfg['bbox_head']['num_classes'] = num_classes
        cfg['test_cfg']['max_per_img'] = 10
        if name == 'dino':
            cfg['dn_cfg']['group_cfg']['num_dn_queries'] = 8
    elif name == 'faster_rcnn':
        cfg['roi_head']['bbox_head']['num_classes'] = num_classes
        cfg['train_cfg']['rpn_proposal']['nms_pre'] = 100
        cfg['train_cfg']['rpn_proposal']['max_per_img'] = 50
        cfg['train_cfg']['rcnn']['sampler']['num'] = 32
        cfg['test_cfg']['rpn']['nms_pre'] = 100
        cfg['test_cfg']['rpn']['max_per_img'] = 50
    else:
        cfg['bbox_head']['num_classes'] = num_classes
    if name == 'rtmdet_tiny':
        cfg['data_preprocessor'].pop('batch_augments', None)
    return cfg


def encoder_cfg(**kwargs) -> dict:
    cfg = dict(
        type='HFVisionEncoder',
        model_cfg=dict(
            model_type='clip_vision_model',
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=4,
            image_size=32,
            patch_size=8))
    cfg.update(kwargs)
    return cfg


def fusion_cfg(**kwargs) -> dict:
    cfg = dict(
        num_queries=4,
        hidden_size=32,
        num_layers=2,
        num_heads=4,
        intermediate_size=64,
        vocab_size=64,
        max_position_embeddings=32,
        dropout=0.0,
        attn_dropout=0.0)
    cfg.update(kwargs)
    return cfg


def mrmllm_cfg(detector: str = 'dino', tokenizer: str = None,
               arch: str = 'llama', **kwargs) -> dict:
    """A tiny MRMLLM config; a group argument in ``kwargs``
    (``detections=dict(...)``) is merged into the config's."""
    cfg = dict(
        type='MRMLLM',
        detector=detector_cfg(detector) if isinstance(detector, str)
        else detector,
        vision_encoder=encoder_cfg(),
        fusion=fusion_cfg(),
        feedback=dict(num_heads=4),
        perception_encoder=dict(embed_dims=32, num_freqs=4),
        prompt_generator=dict(score_thr=0.0, max_objects=3),
        llm=llm_cfg(arch, tokenizer),
        detections=dict(class_names=CLASSES))
    for key, value in kwargs.items():
        if key in cfg and key in GROUP_DEFAULTS and value is not None:
            value = dict(cfg[key], **value)
        cfg[key] = value
    return cfg


def make_sample(i: int = 0,
                boxes: bool = True,
                questions: bool = True,
                size: int = 64,
                num_gt: int = 2) -> MRMLLMDataSample:
    """One sample following docs/contracts.md."""
    s = MRMLLMDataSample(
        metainfo=dict(
            img_id=i,
            img_path=f'img_{i}.png',
            ori_shape=(size, size),
            img_shape=(size, size),
            scale_factor=(1.0, 1.0),
            has_det_ann=boxes,
            classes=CLASSES))
    gt = InstanceData()
    g = torch.Generator().manual_seed(i)
    if boxes:
        xy = torch.rand(num_gt, 2, generator=g) * size / 2
        wh = torch.rand(num_gt, 2, generator=g) * size / 3 + size / 8
        gt.bboxes = torch.cat([xy, xy + wh], dim=1)
        gt.labels = torch.randint(0, len(CLASSES), (num_gt, ), generator=g)
    else:
        gt.bboxes = torch.zeros(0, 4)
        gt.labels = torch.zeros(0, dtype=torch.long)
    s.gt_instances = gt
    if questions:
        s.questions = ['how many circle ?', 'what colour is the square ?']
        s.gt_answers = [['two', 'two', 'one'], ['red']]
        s.question_types = ['counting', 'colour']
        s.question_ids = [10 * i, 10 * i + 1]
    else:
        s.questions, s.gt_answers = [], []
    return s


def make_batch(samples, size: int = 64, enc_size: int = 32) -> dict:
    """What ``pseudo_collate`` of PackMRMLLMInputs outputs gives."""
    g = torch.Generator().manual_seed(len(samples))
    det = [
        torch.randint(0, 256, (3, size, size), generator=g,
                      dtype=torch.uint8) for _ in samples
    ]
    enc = [
        torch.randint(0, 256, (3, enc_size, enc_size), generator=g,
                      dtype=torch.uint8) for _ in samples
    ]
    return dict(inputs=dict(det=det, enc=enc), data_samples=samples)


def preprocess(model, samples, training=True, **kwargs):
    data = make_batch(copy.deepcopy(samples), **kwargs)
    return model.data_preprocessor(data, training)
