import copy

import pytest
import torch
from tiny_models import (
    encoder_cfg,
    make_sample,
    make_tokenizer,
    mrmllm_cfg,
    preprocess,
)

from mmmrmllm.models import MRMLLM, load_instructblip
from mmmrmllm.registry import MODELS


@pytest.fixture(scope='module')
def tok(tmp_path_factory):
    return make_tokenizer(str(tmp_path_factory.mktemp('tok')))


@pytest.fixture(scope='module')
def model(tok):
    torch.manual_seed(0)
    return MODELS.build(mrmllm_cfg('retinanet', tok, losses=dict(
        det_weight=0.5, lm_weight=2.0)))


def run_loss(model, samples):
    model.train()
    return model(**preprocess(model, samples), mode='loss')


def test_loss_keys_and_exclusions(model):
    calls = []
    adapter = model.det_adapter
    orig = type(adapter).loss_and_predict_from_feats

    def spy(feats, samples, rescale=True):
        calls.append(([f.shape[0] for f in feats],
                      [s.img_id for s in samples]))
        return orig(adapter, feats, samples, rescale)

    adapter.loss_and_predict_from_feats = spy
    try:
        samples = [make_sample(0), make_sample(1, boxes=False),
                   make_sample(2, questions=False)]
        losses = run_loss(model, samples)
    finally:
        del adapter.loss_and_predict_from_feats
    assert calls == [([2] * len(calls[0][0]), [0, 2])]
    assert set(losses) >= {'det.loss_cls', 'det.loss_bbox', 'lm.loss_lm'}
    assert all(k.startswith(('det.', 'lm.')) for k in losses)
    # No boxes anywhere: LM only. No questions anywhere: detection only.
    losses = run_loss(model, [make_sample(3, boxes=False)])
    assert list(losses) == ['lm.loss_lm']
    losses = run_loss(model, [make_sample(4, questions=False)])
    assert losses and all(k.startswith('det.') for k in losses)
    # An annotated image without boxes is a negative: it has a det loss.
    neg = make_sample(5, num_gt=0, questions=False)
    losses = run_loss(model, [neg])
    assert torch.isfinite(model.parse_losses(losses)[0])


def test_lambdas(model):
    samples = [make_sample(0)]
    model.lambda_det, model.lambda_lm = 1.0, 1.0
    torch.manual_seed(0)
    base = run_loss(model, samples)
    model.lambda_det, model.lambda_lm = 0.5, 2.0
    torch.manual_seed(0)
    scaled = run_loss(model, samples)
    torch.testing.assert_close(scaled['lm.loss_lm'], base['lm.loss_lm'] * 2)
    torch.testing.assert_close(scaled['det.loss_cls'][0],
                               base['det.loss_cls'][0] * 0.5)


def test_bad_samples(model):
    with pytest.raises(ValueError, match='img_7.png.*neither'):
        run_loss(model, [make_sample(7, boxes=False, questions=False)])
    s = make_sample(8)
    s.questions = ['what colour is the square ? ' * 60]
    s.gt_answers = [['red']]
    model.llm.too_long = 'error'
    try:
        with pytest.raises(ValueError, match='img_8.png.*needs.*tokens'):
            run_loss(model, [s])
    finally:
        model.llm.too_long = 'skip'


def test_zero_detections_and_predict(tok):
    model = MODELS.build(
        mrmllm_cfg('retinanet', tok,
                   prompt_generator=dict(score_thr=1.1)))
    losses = run_loss(model, [make_sample(0)])
    assert torch.isfinite(model.parse_losses(losses)[0])
    model.eval()
    # an untrained head scores about 0.01: keep its boxes to check them
    model.detector.bbox_head.test_cfg['score_thr'] = 0.0

    def predict(scale, rescale=True):
        samples = [make_sample(0), make_sample(1, questions=False)]
        # the same 64 px input, resized from a (64 / scale) px original
        samples[0].set_metainfo(dict(
            ori_shape=(int(64 / scale[1]), int(64 / scale[0])),
            scale_factor=scale))
        data = preprocess(model, samples, training=False)
        with torch.no_grad():
            return model.predict(data['inputs'], data['data_samples'],
                                 rescale=rescale)

    out = predict((0.5, 0.25))
    assert [len(s.pred_answers) for s in out] == [2, 0]
    assert out[0].metainfo['prompt_objects_dropped'] == 0
    boxes = out[0].pred_instances.bboxes
    # the detector still finds boxes; only the prompt's score_thr hides them
    assert boxes.ndim == 2 and boxes.shape[1] == 4 and len(boxes) > 0
    # rescaling divides x by 0.5 and y by 0.25: original-image pixels
    unscaled = predict((1.0, 1.0))[0].pred_instances.bboxes
    torch.testing.assert_close(boxes, unscaled * torch.tensor([2, 4, 2, 4]))
    not_rescaled = predict((0.5, 0.25), rescale=False)[0]
    torch.testing.assert_close(not_rescaled.pred_instances.bboxes, unscaled)


def test_prompt_over_context_drops_objects(tok):
    model = MODELS.build(
        mrmllm_cfg('retinanet', tok,
                   llm=dict(mrmllm_cfg(None, tok)['llm'], max_length=40),
                   detections=dict(source='gt'),
                   prompt_generator=dict(score_thr=0.0, max_objects=10)))
    model.train()
    sample = make_sample(0)
    data = preprocess(model, [sample])
    model(**data, mode='loss')
    assert data['data_samples'][0].metainfo['prompt_objects_dropped'] > 0


def test_question_too_long_is_skipped_and_scored_zero(tok):
    from mmmrmllm.evaluation.metrics import VQAAccuracy
    model = MODELS.build(
        mrmllm_cfg('retinanet', tok,
                   llm=dict(mrmllm_cfg(None, tok)['llm'], max_length=60)))
    sample = make_sample(0)
    sample.questions = ['what ? ' * 200, 'how many circle ?']
    sample.gt_answers = [['one'], ['two']]
    sample.question_types = ['other', 'count']
    model.train()
    losses = run_loss(model, [sample])  # training goes on without it
    assert torch.isfinite(losses['lm.loss_lm'])
    model.eval()
    with torch.no_grad():
        out = model(**preprocess(model, [sample], training=False),
                    mode='predict')
    # the answers stay aligned with the questions: '' for the skipped one
    assert len(out[0].pred_answers) == 2 and out[0].pred_answers[0] == ''
    assert out[0].metainfo['skipped_questions'] == [0]
    metric = VQAAccuracy()
    metric.process({}, [out[0].to_dict()])
    result = metric.compute_metrics(metric.results)
    assert result['num_questions'] == 2
    assert result['num_skipped_too_long'] == 1
    assert result['acc'] <= 0.5


def test_modes(tok):
    det = MODELS.build(mrmllm_cfg('fcos', tok, variant='detector_only'))
    assert det.llm is None and det.vision_encoder is None
    samples = [make_sample(0), make_sample(1, boxes=False)]
    losses = run_loss(det, samples)
    assert all(k.startswith('det.') for k in losses)
    losses = run_loss(det, [make_sample(1, boxes=False)])
    assert list(losses) == ['loss_empty']
    losses['loss_empty'].backward()
    det.eval()
    with torch.no_grad():
        out = det(**preprocess(det, samples, training=False), mode='predict')
    assert 'pred_instances' in out[0] and 'pred_answers' not in out[0]

    mllm = MODELS.build(mrmllm_cfg(None, tok, variant='mllm_only'))
    assert mllm.detector is None and mllm.feedback is None
    losses = run_loss(mllm, samples)
    assert list(losses) == ['lm.loss_lm']
    mllm.eval()
    with torch.no_grad():
        out = mllm(**preprocess(mllm, samples, training=False),
                   mode='predict')
    assert len(out[1].pred_answers) == 2
    with pytest.raises(ValueError, match='needs a detector'):
        MODELS.build(mrmllm_cfg(None, tok))


def test_checkpoint_excludes_frozen_weights(model, tok):
    state = model.state_dict()
    assert not any(k.startswith(('llm.', 'vision_encoder.')) for k in state)
    frozen_det = [
        n for n, p in model.detector.named_parameters()
        if not p.requires_grad
    ]
    assert frozen_det and not any(f'detector.{n}' in state
                                  for n in frozen_det)
    assert 'fusion.query_tokens' in state
    torch.manual_seed(1)
    fresh = MODELS.build(mrmllm_cfg('retinanet', tok))
    fresh.load_state_dict(state, strict=True)
    report = fresh.load_report
    assert set(report['checkpoint']) == set(state)
    assert not report['missing'] and not report['unexpected']
    assert any(k.startswith('llm.') for keys in report['kept'].values()
               for k in keys)
    torch.testing.assert_close(fresh.fusion.query_tokens,
                               model.fusion.query_tokens)
    partial = {k: v for k, v in state.items() if not k.startswith('fusion')}
    partial['bogus.weight'] = torch.zeros(1)
    fresh.load_state_dict(partial, strict=False)
    assert fresh.load_report['unexpected'] == ['bogus.weight']
    assert 'fusion.query_tokens' in fresh.load_report['missing']
    assert fresh.weight_sources()['llm'] == 'random init'


def test_missing_weight_directory(tok, tmp_path):
    cfg = mrmllm_cfg(None, tok, variant='mllm_only',
                     vision_encoder=dict(type='HFVisionEncoder',
                                         name_or_path=str(tmp_path / 'no')))
    with pytest.raises(FileNotFoundError, match='not found'):
        MODELS.build(cfg)


def test_load_instructblip(tok, tmp_path):
    from test_fusion import tiny_instructblip
    hf = tiny_instructblip(str(tmp_path))
    cfg = mrmllm_cfg(
        None, tok, variant='mllm_only',
        vision_encoder=encoder_cfg(
            model_cfg=dict(model_type='instructblip_vision_model',
                           hidden_size=32, intermediate_size=64,
                           num_hidden_layers=1, num_attention_heads=4,
                           image_size=32, patch_size=8)))
    cfg['llm']['model_cfg'].update(num_hidden_layers=1)
    model = MODELS.build(cfg)
    assert isinstance(model, MRMLLM)
    report = load_instructblip(model, str(tmp_path))
    for part in ('vision_encoder', 'language_projection', 'llm'):
        assert report[part]['loaded'] and not report[part]['missing'], part
        assert not report[part]['unexpected'], part
    assert not report['unused']
    torch.testing.assert_close(model.fusion.query_tokens, hf.query_tokens)
    torch.testing.assert_close(
        model.llm.model.get_input_embeddings().weight,
        hf.language_model.get_input_embeddings().weight)
    assert model.weight_sources()['fusion'] == str(tmp_path)
    sd = copy.deepcopy(model.state_dict())
    model.load_state_dict(sd)
    assert str(tmp_path) in model.load_report['kept']


def test_gt_perception_schedule(tok):
    from mmengine.logging import MessageHub

    from mmmrmllm.models.gt_schedule import GTPerceptionSchedule
    sched = GTPerceptionSchedule(prob_start=1.0, prob_end=0.2,
                                 decay_iters=10)
    assert [sched.prob(i) for i in (0, 5, 10, 50)] == \
        pytest.approx([1.0, 0.6, 0.2, 0.2])
    with pytest.raises(ValueError, match='prob_end'):
        GTPerceptionSchedule(prob_end=1.5)
    model = MODELS.build(
        mrmllm_cfg('retinanet', tok,
                   detections=dict(gt_schedule=dict(
                       prob_start=1.0, prob_end=0.0, decay_iters=10,
                       corrupt=dict(drop=0.0, add=0.0, jitter=0.0)))))
    model.train()
    samples = [make_sample(0), make_sample(1, boxes=False)]
    data = preprocess(model, samples)
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 0)
    state = model._perceive(data['inputs'], data['data_samples'], True)
    gt = data['data_samples'][0].gt_instances
    assert torch.allclose(state.detections[0].boxes,
                          (gt.bboxes / 64).clamp(0, 1))
    assert torch.equal(state.detections[0].labels, gt.labels)
    # never for a sample without annotated boxes
    assert torch.equal(state.detections[1].scores,
                       state.det_results[1].scores)
    hub.update_info('iter', 10)
    state = model._perceive(data['inputs'], data['data_samples'], True)
    assert torch.equal(state.detections[0].scores,
                       state.det_results[0].scores)
    with pytest.raises(ValueError, match='gt_perception'):
        MODELS.build(mrmllm_cfg('retinanet', tok, detections=dict(
            source='gt', gt_schedule=dict())))


def test_explicit_widths_for_a_neck_without_one(tok, monkeypatch):
    """A neck whose config has no single ``out_channels`` (CenterNet's,
    YOLOv3's): the widths come from one blank-image forward; where that
    fails, the widths given in the config are used, and only their absence
    is an error (the check ran even when they were set)."""
    import mmmrmllm.models.detector_setup as mrmllm_module
    monkeypatch.setattr(mrmllm_module, 'neck_channels', lambda cfg: None)
    probed = MODELS.build(mrmllm_cfg('retinanet', tok))
    assert probed.neck_channels == [256] * 5
    assert probed.feedback.level_embed.shape[0] == 5

    def no_forward(detector):
        raise ValueError('cannot read the detector neck widths (...); set '
                         'fusion.det_feat_dims and feedback.in_channels')

    monkeypatch.setattr(mrmllm_module, 'probe_neck_channels', no_forward)
    with pytest.raises(ValueError, match='set fusion.det_feat_dims'):
        MODELS.build(mrmllm_cfg('retinanet', tok))
    cfg = mrmllm_cfg('retinanet', tok)
    cfg['fusion'] = dict(cfg['fusion'], det_feat_dims=256)
    with pytest.raises(ValueError, match='feedback.in_channels'):
        MODELS.build(cfg)
    cfg['feedback'] = dict(cfg['feedback'], in_channels=256)
    model = MODELS.build(cfg)
    assert model.feedback.norm.normalized_shape == (256, )
    losses = run_loss(model, [make_sample(0)])
    assert 'lm.loss_lm' in losses and 'det.loss_cls' in losses
