"""Inference from a checkpoint loads initialisation-only weights only for
the frozen keys the checkpoint lacks (``MRMLLM(init=dict(lazy_load=True))``,
set by :func:`mmmrmllm.utils.config.for_inference`)."""
import os

import pytest
import torch
from mmengine.config import Config
from tiny_models import mrmllm_cfg

from mmmrmllm.registry import MODELS
from mmmrmllm.utils import register_all_modules
from mmmrmllm.utils.config import for_inference

register_all_modules()
STEM = 'detector.backbone.conv1.weight'


def params(model):
    """Every parameter (``state_dict`` leaves out the frozen ones)."""
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def build(frozen_stages=1, **kwargs):
    cfg = mrmllm_cfg(variant='detector_only', **kwargs)
    backbone = cfg['detector']['backbone']
    backbone['frozen_stages'] = frozen_stages
    # -1: every weight trains, the BN layers' too (the main job's DINO)
    backbone['norm_cfg']['requires_grad'] = frozen_stages < 0
    return MODELS.build(cfg)


def detector_file(tmp_path, frozen_stages=1):
    """A detector checkpoint whose weights differ from any random init."""
    torch.manual_seed(1)
    src = build(frozen_stages)
    with torch.no_grad():
        for p in src.detector.parameters():
            p.add_(1.0)
    path = str(tmp_path / 'det.pth')
    torch.save(dict(state_dict=src.detector.state_dict()), path)
    return path, params(src)


def trained_checkpoint(det, frozen_stages=1):
    """What training from ``det`` saves: frozen keys left out."""
    model = build(frozen_stages, init=dict(detector_checkpoint=det))
    with torch.no_grad():
        model.detector.bbox_head.cls_branches[0].bias.fill_(3.0)
    return model.state_dict()


def test_frozen_keys_come_from_the_detector_checkpoint(tmp_path):
    det, src = detector_file(tmp_path)
    ckpt = trained_checkpoint(det)
    assert STEM not in ckpt  # frozen stem: kept out of checkpoints
    model = build(init=dict(detector_checkpoint=det, lazy_load=True))
    # nothing loaded at build time
    assert not torch.equal(params(model)[STEM], src[STEM])
    model.load_state_dict(ckpt, strict=False)
    state = params(model)
    assert torch.equal(state[STEM], src[STEM])
    head = 'detector.bbox_head.cls_branches.0.bias'
    assert torch.equal(state[head], ckpt[head])
    assert model.load_report['kept'][det]  # reported as from det.pth


def test_missing_detector_checkpoint_is_named_when_needed(tmp_path):
    det, _ = detector_file(tmp_path)
    ckpt = trained_checkpoint(det)
    os.remove(det)
    model = build(init=dict(detector_checkpoint=det, lazy_load=True))
    with pytest.raises(FileNotFoundError,
                       match=r'model\.init\.detector_checkpoint .*det\.pth.* '
                       r'frozen keys of detector'):
        model.load_state_dict(ckpt, strict=False)
    # at training time the missing file fails at once
    with pytest.raises(FileNotFoundError):
        build(init=dict(detector_checkpoint=det))


def test_checkpoint_with_every_weight_needs_no_other_file(tmp_path):
    det, _ = detector_file(tmp_path, frozen_stages=-1)
    ckpt = trained_checkpoint(det, frozen_stages=-1)
    assert STEM in ckpt
    os.remove(det)
    model = build(-1, init=dict(detector_checkpoint=det, lazy_load=True))
    model.load_state_dict(ckpt, strict=True)
    for key, val in model.state_dict().items():
        assert torch.equal(val, ckpt[key]), key


def test_for_inference_sets_the_switch_of_models_that_take_it():
    cfg = Config(dict(model=mrmllm_cfg(init=dict(detector_checkpoint='d'))))
    assert for_inference(cfg).model.init.lazy_load is True
    assert cfg.model.init.detector_checkpoint == 'd'
    other = Config(dict(model=dict(type='mmdet.RetinaNet')))
    assert 'lazy_init_weights' not in for_inference(other).model
    assert 'init' not in other.model


def test_for_inference_makes_a_flat_config_lazy_too(tmp_path):
    """A config of the previous release (flat keywords) still builds lazy
    (the checkpoint is not loaded at build time)."""
    det, src = detector_file(tmp_path)
    cfg = mrmllm_cfg(variant='detector_only', detector_checkpoint=det)
    cfg['detector']['backbone']['frozen_stages'] = 1
    cfg['detector']['backbone']['norm_cfg']['requires_grad'] = False
    with pytest.warns(DeprecationWarning, match='init.detector_checkpoint'):
        model = MODELS.build(for_inference(Config(dict(model=cfg))).model)
    assert model.lazy_init_weights is True
    assert not torch.equal(params(model)[STEM], src[STEM])
