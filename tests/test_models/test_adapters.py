"""Every supported mmdet family runs jointly, and gradients flow as
designed."""
import copy

import pytest
import torch
from mmdet.models.detectors import SingleStageDetector
from tiny_models import make_sample, make_tokenizer, mrmllm_cfg, preprocess

from mmmrmllm.models import build_detector_adapter
from mmmrmllm.registry import MODELS
from mmmrmllm.utils.part_timer import PartTimer

DETECTORS = ['dino', 'deformable_detr', 'faster_rcnn', 'retinanet', 'fcos',
             'rtmdet_tiny']


@pytest.fixture(scope='module')
def tok(tmp_path_factory):
    return make_tokenizer(str(tmp_path_factory.mktemp('tok')))


def grad_norm(module):
    return sum(
        p.grad.abs().sum().item() for p in module.parameters()
        if p.grad is not None)


@pytest.mark.parametrize('name', DETECTORS)
def test_joint_training_and_gradient_paths(name, tok):
    torch.manual_seed(0)
    model = MODELS.build(mrmllm_cfg(name, tok))
    model.train()
    samples = [make_sample(0), make_sample(1, questions=False),
               make_sample(2, boxes=False)]
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=1e-3)
    for _ in range(2):
        data = preprocess(model, samples)
        losses = model(**data, mode='loss')
        assert any(k.startswith('det.loss') for k in losses)
        assert 'lm.loss_lm' in losses
        total, _ = model.parse_losses(losses)
        assert torch.isfinite(total)
        optim.zero_grad()
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 0.1)
        optim.step()
    gates = [model.fusion.p_gate, model.feedback.gate]
    assert all(g.abs().sum() > 0 for g in gates), gates

    def grads(key, detach):
        model.detach_perception = detach
        model.zero_grad()
        losses = model(**preprocess(model, samples), mode='loss')
        part = {k: v for k, v in losses.items() if k.startswith(key)}
        model.parse_losses(part)[0].backward()
        return grad_norm(model.fusion), grad_norm(model.detector)

    fusion_g, _ = grads('det.', False)
    assert fusion_g > 0, 'detection loss does not reach the fusion'
    _, det_g = grads('lm.', False)
    assert det_g > 0, 'LM loss does not reach the detector'
    _, det_g = grads('lm.', True)
    assert det_g == 0, 'detach_perception leaks the LM gradient'

    model.eval()
    with torch.no_grad():
        out = model(**preprocess(model, samples, training=False),
                    mode='predict')
    assert len(out[0].pred_answers) == 2 and out[1].pred_answers == []
    assert out[0].pred_instances.bboxes.shape[1] == 4


@MODELS.register_module(force=True)
class OwnLossDetector(SingleStageDetector):
    """Stands for GLIP & co.: a loss of its own."""

    def loss(self, batch_inputs, batch_data_samples):
        return {}


def test_detector_without_adapter(tok):
    from tiny_models import detector_cfg
    cfg = detector_cfg('retinanet')
    cfg['type'] = 'OwnLossDetector'
    with pytest.raises(NotImplementedError, match='OwnLossDetector'):
        MODELS.build(mrmllm_cfg(cfg, tok))
    with pytest.raises(NotImplementedError, match='Linear'):
        build_detector_adapter(torch.nn.Linear(1, 1))


def test_wrong_detector_config(tok):
    from tiny_models import detector_cfg
    cfg = detector_cfg('retinanet')
    cfg['type'] = 'NoSuchDetector'
    with pytest.raises(ValueError, match='NoSuchDetector'):
        MODELS.build(mrmllm_cfg(cfg, tok))
    cfg = detector_cfg('retinanet')
    cfg['bbox_head']['num_anchors_typo'] = 3
    with pytest.raises(ValueError, match='could not build the detector'):
        MODELS.build(mrmllm_cfg(cfg, tok))
    with pytest.raises(TypeError, match='mmdet model config'):
        MODELS.build(mrmllm_cfg('retinanet', tok) | dict(detector='retinanet'))


@pytest.mark.parametrize('name', ['dino', 'faster_rcnn'])
def test_zero_gate_equals_detector_alone(name, tok):
    torch.manual_seed(0)
    model = MODELS.build(mrmllm_cfg(name, tok,
                                    losses=dict(det_weight=1.0)))
    model.train()
    samples = [make_sample(0), make_sample(1)]
    data = preprocess(model, samples)
    adapter = model.det_adapter
    head_loss = adapter.loss_and_predict_from_feats

    def reseeded(feats, s, rescale=True):
        torch.manual_seed(123)  # DINO draws its denoising queries
        return head_loss(feats, s, rescale)

    adapter.loss_and_predict_from_feats = reseeded
    joint = model(**copy.deepcopy(data), mode='loss')
    del adapter.loss_and_predict_from_feats
    torch.manual_seed(123)
    alone = model.detector.loss(data['inputs']['det'],
                                copy.deepcopy(data['data_samples']))
    for key, val in alone.items():
        got = joint[f'det.{key}']
        if isinstance(val, (list, tuple)):
            for a, b in zip(got, val):
                torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
        else:
            torch.testing.assert_close(got, val, atol=1e-6, rtol=0)

    model.eval()
    data = preprocess(model, samples, training=False)
    with torch.no_grad():
        joint = model(**copy.deepcopy(data), mode='predict')
        alone = model.detector.predict(data['inputs']['det'],
                                       copy.deepcopy(data['data_samples']))
    for a, b in zip(joint, alone):
        torch.testing.assert_close(a.pred_instances.bboxes,
                                   b.pred_instances.bboxes, atol=1e-6,
                                   rtol=0)
        torch.testing.assert_close(a.pred_instances.scores,
                                   b.pred_instances.scores, atol=1e-6,
                                   rtol=0)


@pytest.mark.parametrize('name', DETECTORS)
def test_loss_and_predict_is_one_pass(name, tok):
    """The training forward's own outputs, decoded, are the detections:
    the same losses as ``loss_from_feats`` and the same boxes as an
    eval-mode ``predict_from_feats`` on the same features."""
    torch.manual_seed(0)
    model = MODELS.build(mrmllm_cfg(name, tok))
    model.train()
    for m in model.modules():
        # Deformable DETR's dropout: training outputs carry its noise
        if isinstance(m, (torch.nn.Dropout, torch.nn.MultiheadAttention)):
            m.eval()
    samples = [make_sample(0), make_sample(1)]
    data = preprocess(model, samples)
    adapter = model.det_adapter
    with torch.no_grad():
        feats = adapter.extract(data['inputs']['det'])
    torch.manual_seed(1)
    losses, results = adapter.loss_and_predict_from_feats(
        feats, copy.deepcopy(data['data_samples']))
    torch.manual_seed(1)
    ref_losses = adapter.loss_from_feats(feats,
                                         copy.deepcopy(data['data_samples']))
    assert set(losses) == set(ref_losses)
    for key, val in ref_losses.items():
        torch.testing.assert_close(losses[key], val)
    assert len(results) == 2
    assert all(not r.bboxes.requires_grad for r in results)
    ref = model._detect(feats, data['data_samples'])
    if name == 'rtmdet_tiny':
        # BatchNorm in the head: training-mode statistics differ from the
        # eval pass, so only the form is compared
        assert [r.bboxes.shape[1] for r in results] == [4, 4]
        return
    for got, want in zip(results, ref):
        torch.testing.assert_close(got.bboxes, want.bboxes)
        torch.testing.assert_close(got.scores, want.scores)
        assert torch.equal(got.labels, want.labels)


def count_calls(module):
    calls = []
    module.register_forward_hook(lambda *a: calls.append(1))
    return calls


@pytest.mark.parametrize('targets,passes', [(('llm', ), 1),
                                            (('fusion', 'llm'), 2)])
def test_head_runs_once_per_step(targets, passes, tok):
    torch.manual_seed(0)
    model = MODELS.build(mrmllm_cfg('dino', tok, couplings=dict(
        box_token_targets=targets)))
    decoder = count_calls(model.detector.decoder)
    samples = [make_sample(0), make_sample(1)]
    model.train()
    losses = model(**preprocess(model, samples), mode='loss')
    assert 'lm.loss_lm' in losses and 'det.loss_cls' in losses
    assert len(decoder) == passes
    decoder.clear()
    model.eval()
    timer = PartTimer(cuda_sync=False)
    with torch.no_grad(), timer.attach(model):
        model(**preprocess(model, samples, training=False), mode='predict')
    assert len(decoder) == passes
    assert model.part_timer is None  # detached after the block
    # the model's own account: backbone once, the head ``passes`` times
    assert timer.images['detector.extract'] == 2
    assert timer.images['detector.head'] == 2 * passes
    assert {'vision_encoder', 'fusion', 'feedback', 'llm'} <= set(
        timer.seconds)
    assert all(t >= 0 for t in timer.seconds.values())
    # without feedback nothing changes the features: one pass either way
    model = MODELS.build(mrmllm_cfg('dino', tok, couplings=dict(
        box_token_targets=targets, feedback=False)))
    decoder = count_calls(model.detector.decoder)
    model.train()
    model(**preprocess(model, samples), mode='loss')
    assert len(decoder) == 1


def test_register_an_adapter_for_a_new_detector(tok):
    """The public extension point: a detector with its own loss (refused
    before) gets an adapter by a decorator, and the joint model uses it."""
    from tiny_models import detector_cfg

    from mmmrmllm.models.det_adapters import (
        _ADAPTERS,
        SingleStageAdapter,
        register_detector_adapter,
    )

    @register_detector_adapter(OwnLossDetector, force=True)
    class OwnLossAdapter(SingleStageAdapter):
        pass

    try:
        cfg = detector_cfg('retinanet')
        cfg['type'] = 'OwnLossDetector'
        model = MODELS.build(mrmllm_cfg(cfg, tok))
        assert isinstance(model.det_adapter, OwnLossAdapter)
        with pytest.raises(KeyError, match='already has the adapter'):
            register_detector_adapter(OwnLossDetector)(OwnLossAdapter)
        with pytest.raises(TypeError, match='BaseDetectorAdapter'):
            register_detector_adapter(OwnLossDetector, force=True)(object)
    finally:
        # test_detector_without_adapter needs OwnLossDetector refused
        _ADAPTERS.pop(OwnLossDetector, None)


def test_an_adapter_of_two_methods_gets_loss_and_predict(tok):
    """An adapter that writes only loss_from_feats and predict_from_feats
    gets loss_and_predict_from_feats from the base: the same losses, and
    the eval-mode predictions, with the detector left in training mode."""
    from mmmrmllm.models.det_adapters import BaseDetectorAdapter
    torch.manual_seed(0)
    model = MODELS.build(mrmllm_cfg('fcos', tok))
    family = model.det_adapter

    class TwoMethods(BaseDetectorAdapter):

        def loss_from_feats(self, feats, samples):
            return family.loss_from_feats(feats, samples)

        def predict_from_feats(self, feats, samples, rescale=True):
            return family.predict_from_feats(feats, samples, rescale)

    adapter = TwoMethods(model.detector)
    model.train()
    data = preprocess(model, [make_sample(0), make_sample(1)])
    samples = data['data_samples']
    feats = adapter.extract(data['inputs']['det'])
    losses, results = adapter.loss_and_predict_from_feats(feats, samples)
    assert model.detector.training
    ref_losses = family.loss_from_feats(feats, samples)
    assert set(losses) == set(ref_losses)
    for key, val in ref_losses.items():
        torch.testing.assert_close(losses[key], val)
    ref = model._detect(feats, samples)
    for r, e in zip(results, ref):
        assert not r.bboxes.requires_grad
        torch.testing.assert_close(r.bboxes, e.bboxes)
        torch.testing.assert_close(r.scores, e.scores)
