"""Names renamed so that each means one thing: the old ones keep working
for one release, and warn."""
import importlib
import sys

import pytest
import torch

from mmmrmllm.models import (
    BaseFeedback,
    BaseFusion,
    BoxTokenEncoder,
    DetectionPromptGenerator,
    PerceptionFeedback,
    SharedQueryFusion,
    mechanism_gates,
)
from mmmrmllm.models.part_configs import fusion_config
from mmmrmllm.registry import MODELS


def fresh_import(name):
    """Import ``name`` as if for the first time (its warning included)."""
    for mod in [m for m in sys.modules if m == name or m.startswith(
            name + '.') or m.startswith(name.rsplit('.', 1)[0] + '._moved')]:
        del sys.modules[mod]
    return importlib.import_module(name)


@pytest.mark.parametrize('old, new', [
    ('mmmrmllm.models.perception', 'mmmrmllm.models.box_tokens'),
    ('mmmrmllm.models.perception.gt_perception', 'gt_schedule'),
    ('mmmrmllm.models.detectors', 'mmmrmllm.models.det_adapters'),
    ('mmmrmllm.models.wiring', 'mmmrmllm.models.detector_setup'),
    ('mmmrmllm.text.perception_prompt', 'mmmrmllm.text.detection_prompt'),
])
def test_old_module_paths_import_and_warn(old, new):
    with pytest.warns(DeprecationWarning, match=new):
        fresh_import(old)


def test_old_paths_give_the_new_objects():
    with pytest.warns(DeprecationWarning):
        fresh_import('mmmrmllm.models.detectors')
    from mmmrmllm.models import det_adapters, detector_setup, gt_schedule
    from mmmrmllm.models.detectors import build_detector_adapter
    from mmmrmllm.models.detectors.adapters import _ADAPTERS
    from mmmrmllm.models.detectors.adapters.detr import DETRAdapter
    assert build_detector_adapter is det_adapters.build_detector_adapter
    assert _ADAPTERS is det_adapters._ADAPTERS
    assert DETRAdapter is det_adapters.DETRAdapter
    from mmmrmllm.models.perception import PerceptionFeedback as OldFeedback
    from mmmrmllm.models.perception.gt_perception import GTPerceptionSchedule
    from mmmrmllm.models.wiring import neck_widths
    assert OldFeedback is PerceptionFeedback
    assert GTPerceptionSchedule is gt_schedule.GTPerceptionSchedule
    assert neck_widths is detector_setup.neck_widths


def test_old_type_names_build_and_warn():
    with pytest.warns(DeprecationWarning, match='BoxTokenEncoder'):
        old = MODELS.build(dict(type='PerceptionEncoder', label_dims=4,
                                out_dims=dict(llm=8), embed_dims=8))
    new = BoxTokenEncoder(label_dims=4, out_dims=dict(llm=8), embed_dims=8)
    assert isinstance(old, BoxTokenEncoder)
    assert old.state_dict().keys() == new.state_dict().keys()
    with pytest.warns(DeprecationWarning, match='DetectionPromptGenerator'):
        gen = MODELS.build(dict(type='PerceptionPromptGenerator',
                                score_thr=0.3))
    assert isinstance(gen, DetectionPromptGenerator)
    assert gen.score_thr == 0.3


def test_perception_dims_is_det_feat_dims():
    kw = dict(vision_dims=32, num_queries=4, hidden_size=32, num_layers=1,
              num_heads=4, intermediate_size=64)
    with pytest.warns(DeprecationWarning, match='det_feat_dims'):
        old = SharedQueryFusion(perception_dims=[8, 16], **kw)
    new = SharedQueryFusion(det_feat_dims=[8, 16], **kw)
    assert old.det_feat_dims == [8, 16]
    assert old.state_dict().keys() == new.state_dict().keys()
    with pytest.warns(DeprecationWarning, match='fusion.det_feat_dims'):
        cfg = fusion_config(dict(perception_dims=16), 32, True, None)
    assert cfg['det_feat_dims'] == 16 and 'perception_dims' not in cfg


def tiny_couplings(widths=32):
    fusion = SharedQueryFusion(vision_dims=32, det_feat_dims=widths,
                               num_queries=4, hidden_size=32, num_layers=2,
                               num_heads=4, intermediate_size=64)
    return torch.nn.ModuleDict(dict(
        fusion=fusion,
        feedback=PerceptionFeedback(in_channels=widths, query_dims=32,
                                    num_heads=4)))


def test_the_couplings_state_their_contract_and_gates():
    model = tiny_couplings()
    assert isinstance(model.fusion, BaseFusion)
    assert isinstance(model.feedback, BaseFeedback)
    gates = mechanism_gates(model)
    assert list(gates) == [
        'fusion.p_gate', 'fusion.encoder.layer.0.perception_gate',
        'fusion.encoder.layer.1.perception_gate', 'feedback.gate'
    ]
    # what the name rule that the contract replaces found, in that order
    assert list(gates) == [
        n for n, _ in model.named_parameters()
        if n.split('.')[-1].endswith('gate')
    ]
    assert all(float(p.abs().sum()) == 0 for p in gates.values())
    # per-level widths: each level's gate (the name rule missed these)
    levels = mechanism_gates(tiny_couplings([8, 16]))
    assert [n for n in levels if n.startswith('feedback.')] == [
        'feedback.level_gates.0', 'feedback.level_gates.1'
    ]


def test_a_feedback_without_its_gates_is_refused():

    class NoGates(BaseFeedback):

        def forward(self, feats, queries):
            return tuple(feats)

    with pytest.raises(TypeError, match='gate_parameters'):
        NoGates(in_channels=8, query_dims=8)
