import os.path as osp

import mmdet
import pytest
import torch
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from mmmrmllm import registry

ZOO = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')


def test_registries_are_children_of_mmdet():
    import mmdet.registry as mmdet_registry
    for name in ('MODELS', 'DATASETS', 'TRANSFORMS', 'METRICS', 'HOOKS',
                 'VISUALIZERS', 'DATA_SAMPLERS', 'LOOPS', 'OPTIM_WRAPPERS'):
        ours = getattr(registry, name)
        assert ours.parent is getattr(mmdet_registry, name), name
        assert ours.scope == 'mmmrmllm'


def tiny_dino_cfg():
    """mmdet's own DINO zoo config, shrunk to a CPU-sized model."""
    cfg = Config.fromfile(
        osp.join(ZOO, 'dino', 'dino-4scale_r50_8xb2-12e_coco.py'))
    model = cfg.model
    model.backbone.depth = 18
    model.backbone.init_cfg = None
    model.neck.in_channels = [128, 256, 512]
    model.num_queries = 20
    model.encoder.num_layers = 1
    model.decoder.num_layers = 2
    model.bbox_head.num_classes = 3
    model.dn_cfg.group_cfg.num_dn_queries = 10
    # top-k over num_queries x num_classes
    model.test_cfg.max_per_img = 20
    return model


def _samples(size=64):
    samples = []
    for boxes in ([[4., 6., 30., 40.], [20., 20., 60., 50.]], []):
        sample = DetDataSample(
            metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                          batch_input_shape=(size, size), pad_shape=(size,
                                                                     size),
                          scale_factor=(1., 1.)))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor(boxes).reshape(-1, 4),
            labels=torch.arange(len(boxes)))
        samples.append(sample)
    return samples


def test_zoo_dino_builds_in_our_scope_and_trains():
    cfg = tiny_dino_cfg()
    assert cfg.type == 'DINO' and cfg.backbone.type == 'ResNet'
    with DefaultScope.overwrite_default_scope('mmmrmllm'):
        model = registry.MODELS.build(cfg)
    assert type(model) is MMDET_MODELS.get('DINO')
    torch.manual_seed(0)
    # DINO's level_embed is uninitialised memory until init_weights
    model.init_weights()
    images = torch.randn(2, 3, 64, 64)
    losses = model.loss(images, _samples())
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    grads = [p.grad for p in model.backbone.parameters()
             if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)

    model.eval()
    with torch.no_grad():
        results = model.predict(images, _samples())
    assert len(results) == 2
    pred = results[0].pred_instances
    assert pred.bboxes.shape[1] == 4
    assert len(pred.scores) == len(pred.labels) == len(pred.bboxes) > 0
    assert pred.labels.max() < 3


def test_unknown_type_in_our_scope_fails():
    with DefaultScope.overwrite_default_scope('mmmrmllm'):
        with pytest.raises(KeyError, match='NoSuchDetector'):
            registry.MODELS.build(dict(type='NoSuchDetector'))
