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
    return ckpt, cfg


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


@pytest.mark.parametrize('key', ['detector.backbone.conv1.weight',
                                 'llm.model.lm_head.weight'])
def test_a_perturbed_weight_is_seen(legacy, key):
    ckpt, cfg = legacy
    state = copy.copy(ckpt['state_dict'])
    state[key] = state[key] + 0.05
    model = loaded(cfg, dict(state_dict=state))
    with pytest.raises(AssertionError):
        assert_same(run(model, ckpt['inputs']), ckpt['outputs'])
