import json
from unittest import mock

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger
from mmengine.structures import InstanceData

from mmmrmllm.evaluation import CornerRecall, MRMLLMCocoMetric
from mmmrmllm.evaluation.functional.recall import box_iou, match_gts

CLASSES = ('circle', 'square')
GT = {
    1: [([10, 10, 40, 40], 0, False), ([60, 60, 90, 100], 1, True)],
    2: [([5, 50, 45, 95], 1, False), ([50, 5, 95, 45], 0, True)],
}


def make_sample(img_id, shift=0.0, has_det_ann=True, questions=(),
                answers=(), preds=(), drop_corner=False):
    sample = DetDataSample(metainfo=dict(
        img_id=img_id, ori_shape=(128, 128), has_det_ann=has_det_ann,
        instances=[
            dict(bbox=b, bbox_label=label, ignore_flag=0, corner=c)
            for b, label, c in GT.get(img_id, [])
        ] if has_det_ann else []))
    objs = [o for o in GT.get(img_id, []) if not (drop_corner and o[2])]
    boxes = torch.tensor([o[0] for o in objs], dtype=torch.float32).reshape(
        -1, 4)
    sample.pred_instances = InstanceData(
        bboxes=boxes + shift,
        scores=torch.ones(len(objs)),
        labels=torch.tensor([o[1] for o in objs], dtype=torch.long))
    sample.questions = list(questions)
    sample.gt_answers = [list(a) for a in answers]
    sample.question_types = ['t'] * len(questions)
    sample.pred_answers = list(preds)
    return sample


def evaluate(metric, samples):
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, [s.to_dict() for s in samples])
    return metric.compute_metrics(metric.results)


def test_coco_map_perfect_and_shifted():
    result = evaluate(MRMLLMCocoMetric(), [make_sample(1), make_sample(2)])
    assert result['bbox_mAP'] == pytest.approx(1.0)
    shifted = evaluate(MRMLLMCocoMetric(),
                       [make_sample(1, shift=6), make_sample(2, shift=6)])
    assert 0 <= shifted['bbox_mAP'] < 0.9


def test_coco_skips_vqa_only_and_resets_gt():
    metric = MRMLLMCocoMetric()
    metric.dataset_meta = dict(classes=CLASSES)
    samples = [make_sample(1), make_sample(3, has_det_ann=False,
                                           questions=['q'], answers=[['a']],
                                           preds=['a'])]
    metric.process({}, [s.to_dict() for s in samples])
    assert len(metric.results) == 2 and metric.results[1] is None
    assert metric.compute_metrics(metric.results)['bbox_mAP'] == 1.0
    # a second evaluation on other images rebuilds the ground truth
    metric.results.clear()
    metric.process({}, [make_sample(2, shift=6).to_dict()])
    assert metric.compute_metrics(metric.results)['bbox_mAP'] < 0.9
    assert metric.compute_metrics([]) == {}


def test_coco_with_ann_file_counts_only_evaluated_images(tmp_path):
    images = [dict(id=i, width=128, height=128, file_name=f'{i}.png')
              for i in (1, 2, 3)]
    anns = []
    for img_id, objs in list(GT.items()) + [(3, GT[1])]:
        for box, label, _ in objs:
            x1, y1, x2, y2 = box
            anns.append(dict(id=len(anns) + 1, image_id=img_id,
                             category_id=label + 1, iscrowd=0,
                             bbox=[x1, y1, x2 - x1, y2 - y1],
                             area=(x2 - x1) * (y2 - y1)))
    path = tmp_path / 'gt.json'
    path.write_text(json.dumps(dict(
        images=images, annotations=anns,
        categories=[dict(id=1, name='circle'), dict(id=2, name='square')])))
    result = evaluate(MRMLLMCocoMetric(ann_file=str(path)),
                      [make_sample(1), make_sample(2)])
    assert result['bbox_mAP'] == pytest.approx(1.0)


def test_corner_recall():
    result = evaluate(CornerRecall(), [
        make_sample(1, drop_corner=True), make_sample(2, drop_corner=True)
    ])
    assert result['AR_common'] == pytest.approx(1.0)
    assert result['AR_corner'] == 0.0 and result['AR_agnostic'] == 0.0
    assert result['num_corner'] == 2 and result['num_common'] == 2
    # right boxes, wrong classes: found class-agnostically only
    swapped = make_sample(1)
    swapped.pred_instances.labels = 1 - swapped.pred_instances.labels
    result = evaluate(CornerRecall(), [swapped])
    assert result['AR_corner'] == 0.0 and result['AR_agnostic'] == 1.0
    result = evaluate(CornerRecall(corner_classes=['circle']),
                      [make_sample(1, drop_corner=True)])
    # the circle is now a corner object too, and it was found
    assert result['AR_corner'] == pytest.approx(0.5)
    assert result['AR_common'] == -1.0


def test_corner_recall_iou_thresholds():
    result = evaluate(CornerRecall(), [make_sample(1, shift=4.0)])
    # shifted by 4 px in x and y, the 30 x 30 common box keeps IoU
    # 676 / 1124 = 0.601, the 30 x 40 corner box 936 / 1464 = 0.639: found
    # at 0.5, 0.55 and 0.6 of the ten thresholds 0.5:0.05:0.95
    assert result['AR_common'] == pytest.approx(0.3)
    assert result['AR_corner'] == pytest.approx(0.3)
    assert result['AR_agnostic'] == pytest.approx(0.3)
    result = evaluate(CornerRecall(iou_thrs=[0.601, 0.62]),
                      [make_sample(1, shift=4.0)])
    assert result['AR_common'] == pytest.approx(0.5)
    assert result['AR_corner'] == pytest.approx(1.0)


def test_evaluator_over_mixed_batch():
    evaluator = Evaluator([
        dict(type='MRMLLMCocoMetric'),
        dict(type='CornerRecall'),
        dict(type='VQAAccuracy'),
    ])
    evaluator.dataset_meta = dict(classes=CLASSES)
    batch = [
        make_sample(1),  # boxes, no questions
        make_sample(3, has_det_ann=False, questions=['how many?'],
                    answers=[['2']], preds=['two']),  # questions only
        make_sample(2, questions=['left or right?', 'colour?', 'shape?'],
                    answers=[['left'], ['red'], ['circle']],
                    preds=['left', 'blue', 'circle']),
    ]
    evaluator.process(batch, {})
    # more questions than samples: MMEngine cuts results to the dataset
    # size, so every metric keeps one result per sample
    result = evaluator.evaluate(3)
    assert result['coco/bbox_mAP'] == pytest.approx(1.0)
    assert result['corner/AR_corner'] == pytest.approx(1.0)
    assert result['vqa/acc'] == pytest.approx(3 / 4)
    assert result['vqa/num_questions'] == 4


def _warnings(fn):
    """The warnings ``fn()`` logs to the current MMLogger."""
    logger = MMLogger.get_current_instance()
    with mock.patch.object(logger, 'warning') as warning:
        fn()
    return [c.args[0] for c in warning.call_args_list]


def test_corner_recall_records_and_options():
    metric = CornerRecall(prefix='cr', max_dets=1, corner_key='hard')
    assert metric.prefix == 'cr'
    # ignored boxes and boxes without the corner key: not counted / common
    sample = make_sample(1).to_dict()
    sample['instances'] = [
        dict(bbox=[10, 10, 40, 40], bbox_label=0, ignore_flag=1),
        dict(bbox=[60, 60, 90, 100], bbox_label=1),
        dict(bbox=[10, 10, 40, 40], bbox_label=0, hard=True),
        dict(bbox=[5, 5, 9, 9], bbox_label=1)]
    # a sample without box annotations first: skipped, not the end
    skipped = make_sample(3, has_det_ann=False).to_dict()
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, [skipped, sample])
    assert metric.results[0] is None
    result = metric.compute_metrics(metric.results)
    # max_dets=1: only the first (equal scores: stable order) detection,
    # the circle, counts; it finds the 'hard' (corner) circle
    assert (result['num_corner'], result['num_common']) == (1, 2)
    assert result['AR_corner'] == 1.0 and result['AR_common'] == 0.0
    no_instances = make_sample(1).to_dict()
    del no_instances['instances']
    with pytest.raises(KeyError, match=r'CornerRecall needs "instances" in '
                       r'the data samples \(keep it in the meta_keys of '
                       r'PackMRMLLMInputs\)'):
        metric.process({}, [no_instances])
    assert _warnings(lambda: CornerRecall().compute_metrics([None])) == [
        'CornerRecall: no box-annotated samples to evaluate']
    assert _warnings(lambda: MRMLLMCocoMetric().compute_metrics([None])) \
        == ['MRMLLMCocoMetric: no box-annotated samples to evaluate']
    assert _warnings(lambda: CornerRecall().compute_metrics(
        [metric.results[1]])) == []


def test_box_iou_values():
    a = np.array([[0, 0, 2, 1], [0, 0, 0.01, 0.01]])
    b = np.array([[0, 0, 1, 1], [5, 5, 6, 6], [0, 0, 0.01, 0.01]])
    np.testing.assert_allclose(box_iou(a, b), [
        [0.5, 0, 0.01 * 0.01 / 2],
        [0.01 * 0.01 / 1, 0, 1]])


def test_match_gts_greedy_by_score():
    thrs = np.array([0.5, 0.9])
    gts = np.array([[0, 0, 10, 10], [0, 0, 10, 12]], dtype=float)
    labels = np.array([0, 0])
    # both detections overlap both boxes; the better-scored one takes the
    # box it overlaps most, the other the box that is left
    preds = np.array([[0, 0, 10, 10], [0, 0, 10, 10.5]], dtype=float)
    found = match_gts(gts, labels, preds, np.array([0.9, 0.8]),
                      np.array([0, 0]), thrs)
    assert found.dtype == bool
    assert found.tolist() == [[True, True], [True, False]]
    # at most max_dets detections, best score first
    found = match_gts(gts, labels, preds[::-1], np.array([0.8, 0.9]),
                      np.array([0, 0]), thrs, max_dets=1)
    assert found.tolist() == [[True, False], [True, False]]
    # the IoU may equal the threshold
    found = match_gts(gts[:1], labels[:1], np.array([[0., 0, 10, 20]]),
                      np.ones(1), np.zeros(1, int), np.array([0.5]))
    assert found.tolist() == [[True]]
    # class-aware by default: a box of the other class finds nothing
    assert not match_gts(gts, labels, preds, np.ones(2), np.ones(2, int),
                         thrs).any()
    assert match_gts(gts, labels, preds, np.ones(2), np.ones(2, int),
                     thrs, class_aware=False).tolist() == [[True, True],
                                                           [True, False]]
    # no ground truth, or no detections
    assert match_gts(np.zeros((0, 4)), np.zeros(0, int), preds, np.ones(2),
                     np.zeros(2, int), thrs).shape == (2, 0)
    assert not match_gts(gts, labels, np.zeros((0, 4)), np.zeros(0),
                         np.zeros(0, int), thrs).any()
