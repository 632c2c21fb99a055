"""A checkpoint of the joint model made by the flat-keyword constructor
(``tests/data/legacy_joint_ckpt.pth``, see ``make_legacy_joint_ckpt.py``)
loads strictly into the current model and gives the same detections,
answers, prompts and losses on the same inputs."""
import copy
import os.path as osp
import sys

import pytest
import torch
from tiny_models import make_tokenizer

from mmmrmllm.registry import MODELS

DATA = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data')
sys.path.insert(0, DATA)
from make_legacy_joint_ckpt import run  # noqa: E402


@pytest.fixture(scope='module')
def legacy(tmp_path_factory):
    ckpt = torch.load(osp.join(DATA, 'legacy_joint_ckpt.pth'),
                      map_location='cpu', weights_only=False)
    tok = make_tokenizer(str(tmp_path_factory.mktemp('tok')))
    cfg = copy.deepcopy(ckpt['meta']['cfg'])
    cfg['llm']['tokenizer'] = tok
    return ckpt, grouped(cfg)


def grouped(flat: dict) -> dict:
    """The checkpoint's flat-keyword config in the grouped form."""
    cfg = {k: v for k, v in flat.items()
           if k in ('type', 'detector', 'vision_encoder', 'fusion',
                    'feedback', 'perception_encoder', 'prompt_generator',
                    'llm')}
    cfg.update(
        couplings=dict(box_token_targets=flat['box_token_targets']),
        detections=dict(gt_schedule=flat['gt_perception'],
                        class_names=flat['class_names']),
        mllm=dict(instruction_in_fusion=True, instruction_text='prompt'),
        losses=dict(det_weight=0.5, lm_weight=2.0, soft_answer_weight=0.3,
                    region_text_weight=0.2))
    assert set(flat) - set(cfg) == {
        'box_token_targets', 'gt_perception', 'class_names',
        'use_instruction_in_fusion', 'instruction_text', 'lambda_det',
        'lambda_lm', 'soft_answer_weight', 'region_text_weight'}
    return cfg


def build(cfg: dict):
    torch.manual_seed(123)  # not the checkpoint's seed
    return MODELS.build(copy.deepcopy(cfg))


def assert_same(got: dict, want: dict) -> None:
    assert got['answers'] == want['answers']
    assert got['prompts'] == want['prompts']
    for key in ('labels', 'bboxes', 'scores'):
        for g, w in zip(got[key], want[key], strict=True):
            torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got['queries'], want['queries'],
                               rtol=1e-5, atol=1e-6)
    assert set(got['losses']) == set(want['losses'])
    for k, w in want['losses'].items():
        torch.testing.assert_close(got['losses'][k], w, rtol=1e-5,
                                   atol=1e-6)


def loaded(cfg: dict, ckpt: dict):
    model = build(cfg)
    model.load_state_dict(ckpt['state_dict'], strict=True)
    return model


def test_legacy_checkpoint_gives_the_same_outputs(legacy):
    ckpt, cfg = legacy
    model = loaded(cfg, ckpt)
    assert_same(run(model, ckpt['inputs']), ckpt['outputs'])


def test_legacy_checkpoint_through_mmengine(legacy, tmp_path):
    """As a user loads it: mmengine's ``load_checkpoint``, strict."""
    from mmengine.runner import load_checkpoint
    ckpt, cfg = legacy
    model = build(cfg)
    load_checkpoint(model, osp.join(DATA, 'legacy_joint_ckpt.pth'),
                    map_location='cpu', strict=True)
    assert_same(run(model, ckpt['inputs']), ckpt['outputs'])


@pytest.mark.parametrize('key', ['detector.backbone.conv1.weight',
                                 'llm.model.lm_head.weight'])
def test_a_perturbed_weight_is_seen(legacy, key):
    ckpt, cfg = legacy
    state = copy.copy(ckpt['state_dict'])
    state[key] = state[key] + 0.05
    model = loaded(cfg, dict(state_dict=state))
    with pytest.raises(AssertionError):
        assert_same(run(model, ckpt['inputs']), ckpt['outputs'])
