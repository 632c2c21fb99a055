"""Every detector family of mmdet 3.3 that trains from boxes, taken from
mmdet's own zoo configs (shrunk by one shared helper, ``zoo.shrink``),
dropped into ``model.detector`` with every mechanism on: one joint train
step (the detection loss reaches the fusion, the LM loss the detector) and
a prediction whose perception prompt names the objects it detected
(issues 14, 25).
The result per family is listed in docs/model.md.
"""
import pytest
import torch
from tiny_models import (
    CLASSES,
    make_sample,
    make_tokenizer,
    mrmllm_cfg,
    preprocess,
)
from zoo import FAMILIES, make_tiny_bert, shrink

from mmmrmllm.registry import MODELS

# slower than ~10 s on two CPU cores: run by `make test`, not `test-fast`
SLOW = {'cascade_rcnn', 'ddod', 'mask_rcnn', 'ssd', 'sparse_rcnn', 'yolov3',
        'yolox'}


# trained on boxes only here (their masks: test_mask_detector_with_masks)
MASKS = {'mask_rcnn'}


@pytest.fixture(scope='module')
def tok(tmp_path_factory):
    return make_tokenizer(str(tmp_path_factory.mktemp('tok')))


@pytest.fixture(scope='module')
def bert(tmp_path_factory):
    return make_tiny_bert(str(tmp_path_factory.mktemp('bert')))


def grad_norm(module):
    return sum(p.grad.abs().sum().item() for p in module.parameters()
               if p.grad is not None)


def check_prompt_names_detections(model, samples, size):
    """The perception prompt of each image names exactly the classes the
    detector predicted, one word per detection."""
    import copy
    samples = copy.deepcopy(samples)
    for s in samples:
        # a question naming no class: every class word in the prompt then
        # comes from the perception text
        s.questions = ['what is in the image ?']
    model.eval()
    pg = model.prompt_generator
    kept = pg.score_thr, pg.max_objects, pg.object_template
    # every detection listed, by name only: an untrained head's many
    # equal scores leave no cut to guess, and short prompts stay inside
    # the tiny LLM's context (nothing dropped to fit)
    pg.score_thr, pg.max_objects, pg.object_template = 0.0, 1000, '{name}'
    data = preprocess(model, samples, training=False, size=size)
    with torch.no_grad():
        state = model.perceive(data['inputs'], data['data_samples'])
        _, prompts = model.answer(state, data['data_samples'],
                                  return_prompts=True)
    pg.score_thr, pg.max_objects, pg.object_template = kept
    for det, (prompt, ) in zip(state.det_results, prompts):
        assert len(det) > 0
        named = [w for w in prompt.split() if w in CLASSES]
        want = [CLASSES[i] for i in det.labels.tolist()]
        assert sorted(named) == sorted(want), (prompt, want)


@pytest.mark.parametrize('family', [
    pytest.param(f, marks=pytest.mark.slow) if f in SLOW else f
    for f in FAMILIES
])
def test_zoo_family_trains_and_predicts_jointly(family, tok, bert):
    path, size = FAMILIES[family]
    torch.manual_seed(0)
    # box-only data: instance-segmentation detectors drop their mask branch
    model = MODELS.build(mrmllm_cfg(
        shrink(path, text_encoder=bert), tok,
        init=dict(drop_mask_branch=family in MASKS)))
    assert model.use_feedback and model.use_det_feats_in_fusion
    assert model.use_box_tokens and model.use_perception_prompt
    # the coupling gates start at zero (the detector alone at step 0);
    # open them as training would
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith(('feedback.', 'fusion.')) and 'gate' in name:
                p.fill_(0.1)
    samples = [make_sample(0, size=size), make_sample(1, size=size)]
    # an untrained detector's boxes: predict before the step moves them
    check_prompt_names_detections(model, samples, size)

    model.train()
    data = preprocess(model, samples, size=size)
    losses = model(**data, mode='loss')
    det = {k: v for k, v in losses.items() if k.startswith('det.')}
    assert det and 'lm.loss_lm' in losses, sorted(losses)
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    model.zero_grad()
    model.parse_losses(det)[0].backward(retain_graph=True)
    assert grad_norm(model.fusion) > 0, 'detection loss misses the fusion'
    model.zero_grad()
    losses['lm.loss_lm'].backward()
    assert grad_norm(model.detector) > 0, 'LM loss misses the detector'


@pytest.mark.parametrize('family', ['dino', 'ddq_detr'])
def test_training_query_groups_left_out_of_detections(family, tok):
    """Training adds query groups inference never decodes (DINO's
    denoising queries before the matching ones, DDQ-DETR's dense queries
    after them): the training pass's own detections are an eval-mode
    predict's on the same features."""
    import copy
    path, size = FAMILIES[family]
    torch.manual_seed(0)
    model = MODELS.build(mrmllm_cfg(shrink(path), tok))
    det, adapter = model.detector, model.det_adapter
    data = preprocess(model, [make_sample(0), make_sample(1)], size=size)
    samples = data['data_samples']
    det.train()
    with torch.no_grad():
        feats = det.extract_feat(data['inputs']['det'])
        _, got = adapter.loss_and_predict_from_feats(
            feats, copy.deepcopy(samples))
        det.eval()
        want = adapter.predict_from_feats(feats, copy.deepcopy(samples))
    for g, w in zip(got, want):
        assert len(g) == len(w) > 0
        torch.testing.assert_close(g.bboxes, w.bboxes)
        torch.testing.assert_close(g.scores, w.scores)
        assert torch.equal(g.labels, w.labels)


def test_mask_detector_with_masks(tok):
    """Mask R-CNN as the zoo gives it: box-only samples are refused with
    the switch to use; samples with masks train the mask branch too."""
    from mmdet.structures.mask import BitmapMasks
    path, size = FAMILIES['mask_rcnn']
    torch.manual_seed(0)
    model = MODELS.build(mrmllm_cfg(shrink(path), tok))
    assert model.detector.with_mask
    samples = [make_sample(0, size=size), make_sample(1, size=size)]
    model.train()
    with pytest.raises(ValueError, match='drop_mask_branch=True'):
        model(**preprocess(model, samples, size=size), mode='loss')
    for s in samples:
        masks = torch.zeros(len(s.gt_instances), size, size, dtype=torch.uint8)
        for k, (x1, y1, x2, y2) in enumerate(s.gt_instances.bboxes.int()):
            masks[k, y1:y2, x1:x2] = 1
        s.gt_instances.masks = BitmapMasks(masks.numpy(), size, size)
    losses = model(**preprocess(model, samples, size=size), mode='loss')
    assert torch.isfinite(losses['det.loss_mask'])
    assert 'lm.loss_lm' in losses


def test_grounding_dino_adapter_equals_mmdet(tok, bert):
    """On the same images, the adapter's loss on extracted features equals
    mmdet's own GroundingDINO.loss with the class names as text, and its
    predictions equal mmdet's predict."""
    import copy
    path, size = FAMILIES['grounding_dino']
    torch.manual_seed(0)
    model = MODELS.build(mrmllm_cfg(shrink(path, text_encoder=bert), tok))
    det, adapter = model.detector, model.det_adapter
    assert type(adapter).__name__ == 'GroundingDINOAdapter'
    det.train()
    data = preprocess(model, [make_sample(0), make_sample(1)])
    images, samples = data['inputs']['det'], data['data_samples']
    mm_samples = copy.deepcopy(samples)
    for s in mm_samples:
        s.text = ('circle', 'square', 'triangle')
    torch.manual_seed(1)
    ref = det.loss(images, mm_samples)
    torch.manual_seed(1)
    ours = adapter.loss_from_feats(det.extract_feat(images),
                                   copy.deepcopy(samples))
    assert ref.keys() == ours.keys()
    for key in ref:
        torch.testing.assert_close(ours[key], ref[key])
    det.eval()
    with torch.no_grad():
        mm_samples = copy.deepcopy(samples)
        for s in mm_samples:
            s.text = ('circle', 'square', 'triangle')
            s.custom_entities = True
        ref = det.predict(images, mm_samples)
        ours = adapter.predict_from_feats(det.extract_feat(images), samples)
    for r, o in zip(ref, ours):
        torch.testing.assert_close(o.bboxes, r.pred_instances.bboxes)
        torch.testing.assert_close(o.labels, r.pred_instances.labels)
