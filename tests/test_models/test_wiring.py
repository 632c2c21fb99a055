"""Building helpers of the joint model (detector set-up, part configs,
loss scaling)."""
import pytest
import torch

from mmmrmllm.models.detector_setup import (
    detector_config,
    drop_mask_branch,
    neck_channels,
)
from mmmrmllm.models.loss_scaling import scaled_losses
from mmmrmllm.models.part_configs import check_variant, preprocessor_cfg


def test_neck_channels_from_config():
    assert neck_channels(dict(neck=dict(out_channels=64, num_outs=3))) == \
        [64, 64, 64]
    assert neck_channels(dict(neck=[dict(type='A'), dict(
        out_channels=[8, 16])])) == [8, 16]
    assert neck_channels(dict(neck=dict(out_channels=64))) is None
    assert neck_channels(dict()) is None


def test_detector_config_copies_and_drops_the_mask_branch():
    cfg = dict(type='MaskRCNN', roi_head=dict(mask_head=dict(), bbox_head=1))
    out = detector_config(cfg, drop_mask=True)
    assert 'mask_head' not in out.roi_head and 'mask_head' in cfg['roi_head']
    with pytest.raises(TypeError, match='with a type'):
        detector_config(dict(backbone=1))
    htc = dict(roi_head=dict(semantic_head=1, mask_info_flow=True))
    drop_mask_branch(htc)
    assert htc['roi_head'] == dict(mask_info_flow=False)


def test_preprocessor_cfg_takes_the_detector_view_from_the_detector():
    det = dict(type='DINO', data_preprocessor=dict(type='X', mean=[1]))
    pre = preprocessor_cfg(None, det, 'joint')
    assert pre['det'] == dict(type='X', mean=[1])
    assert 'data_preprocessor' not in det
    assert preprocessor_cfg(None, None, 'mllm_only')['det'] is None
    assert preprocessor_cfg(dict(type='P'), dict(type='D'),
                            'detector_only')['enc'] is None


def test_check_variant_names_what_is_missing():
    with pytest.raises(ValueError, match='variant must be one of'):
        check_variant('both', {}, {}, {}, {}, 'pred')
    with pytest.raises(ValueError, match="variant='joint' needs llm"):
        check_variant('joint', {}, {}, {}, None, 'pred')
    with pytest.raises(ValueError, match='needs a detector config'):
        check_variant('detector_only', None, None, None, None, 'pred')
    check_variant('detector_only', {}, None, None, None, 'gt')


def test_scaled_losses_scale_losses_only():
    out = scaled_losses(dict(loss_cls=torch.tensor(2.), acc=torch.tensor(3.),
                             loss_bbox=[torch.tensor(1.), torch.tensor(4.)]),
                        'det', 0.5)
    assert out['det.loss_cls'] == 1 and out['det.acc'] == 3
    assert [float(v) for v in out['det.loss_bbox']] == [0.5, 2.0]
