"""The perception pass's pure helpers."""
import torch
from mmengine.logging import MessageHub
from mmengine.structures import InstanceData

from mmmrmllm.models.gt_schedule import GTPerceptionSchedule
from mmmrmllm.models.perception_pass import (
    Detections,
    gt_detections,
    normalise_detections,
    select_feats,
)
from mmmrmllm.structures import MRMLLMDataSample


def test_normalise_detections_uses_the_shape_boxes_are_in():
    r = InstanceData(bboxes=torch.tensor([[10., 20., 50., 80.],
                                          [0., 0., 300., 10.]]),
                     labels=torch.tensor([1, 2]), scores=torch.ones(2))
    s = MRMLLMDataSample(metainfo=dict(ori_shape=(100, 200),
                                       img_shape=(50, 100)))
    (ori, ), (img, ) = normalise_detections([r], [s]), \
        normalise_detections([r], [s], rescaled=False)
    assert torch.allclose(ori.boxes[0], torch.tensor([.05, .2, .25, .8]))
    assert torch.allclose(img.boxes[0], torch.tensor([.1, .4, .5, 1.]))
    assert ori.boxes[1, 2] == 1  # clamped to the image


def test_select_feats_keeps_the_batch_when_all_are_selected():
    feats = (torch.randn(3, 2, 4, 4), torch.randn(3, 2, 2, 2))
    assert select_feats(feats, [0, 1, 2], 3)[0] is feats[0]
    sub = select_feats(feats, [2, 0], 3)
    assert torch.equal(sub[1], feats[1][[2, 0]])


def test_gt_detections_follow_the_schedule():
    MessageHub.get_current_instance().update_info('iter', 0)
    gt = InstanceData(bboxes=torch.tensor([[0., 0., 50., 25.]]),
                      labels=torch.tensor([2]))
    annotated = MRMLLMDataSample(metainfo=dict(img_shape=(50, 100),
                                               has_det_ann=True))
    annotated.gt_instances = gt
    vqa_only = MRMLLMDataSample(metainfo=dict(img_shape=(50, 100),
                                              has_det_ann=False))
    pred = Detections(torch.zeros(1, 4), torch.tensor([0]), torch.ones(1))
    exact = GTPerceptionSchedule(
        prob_start=1.0, prob_end=1.0, decay_iters=0,
        corrupt=dict(drop=0.0, add=0.0, jitter=0.0))
    out = gt_detections([annotated, vqa_only], [pred, pred], exact, 3)
    assert torch.allclose(out[0].boxes, torch.tensor([[0., 0., .5, .5]]))
    assert out[0].labels.tolist() == [2] and out[1] is pred
    never = GTPerceptionSchedule(prob_start=0.0, prob_end=0.0,
                                 decay_iters=0)
    assert gt_detections([annotated], [pred], never, 3)[0] is pred
