import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.structures import InstanceData

from mmmrmllm.visualization.local_visualizer import (
    MRMLLMVisualizer,
    to_image_frame,
)


def _sample(boxes, box_type=torch.tensor):
    s = DetDataSample(metainfo=dict(
        ori_shape=(480, 640), img_shape=(96, 128), scale_factor=(0.2, 0.2)))
    gt = InstanceData()
    gt.bboxes = box_type(boxes) if box_type is torch.tensor else \
        HorizontalBoxes(torch.tensor(boxes))
    gt.labels = torch.zeros(len(boxes), dtype=torch.long)
    s.gt_instances = gt
    return s


def test_gt_mapped_back_to_original_frame():
    # a box at [102, 214, 500, 375] in the photo is [20.4, 42.8, 100, 75]
    # after a 0.2 resize; drawn on the photo it must be where it was
    s = _sample([[20.4, 42.8, 100.0, 75.0]])
    out = to_image_frame(s, (480, 640))
    assert torch.allclose(out.gt_instances.bboxes,
                          torch.tensor([[102.0, 214.0, 500.0, 375.0]]))
    # the sample itself is unchanged
    assert torch.allclose(s.gt_instances.bboxes,
                          torch.tensor([[20.4, 42.8, 100.0, 75.0]]))
    # drawn on the resized image, nothing moves
    same = to_image_frame(s, (96, 128))
    assert torch.allclose(same.gt_instances.bboxes, s.gt_instances.bboxes)


def test_box_objects_become_tensors():
    # the MLLM-only mode has no detector preprocessor: boxes stay
    # HorizontalBoxes, which mmdet's visualizer cannot draw
    s = _sample([[20.4, 42.8, 100.0, 75.0]], box_type=None)
    out = to_image_frame(s, (96, 128))
    assert isinstance(out.gt_instances.bboxes, torch.Tensor)


def test_add_datasample_draws_gt_where_it_is_in_the_photo():
    vis = MRMLLMVisualizer(name='vis_frame_test', bbox_color=(255, 0, 0))
    image = np.zeros((480, 640, 3), np.uint8)
    s = _sample([[20.4, 42.8, 100.0, 75.0]], box_type=None)
    vis.dataset_meta = dict(classes=('circle', ), palette=[(255, 0, 0)])
    vis.add_datasample('x', image, s, draw_pred=False)
    drawn = vis.get_image()
    # the box edge at x=102 (original frame) is drawn, the resized-frame
    # position x=20 is not
    column = drawn[214:375, 100:105].reshape(-1, 3)
    assert (column.sum(axis=1) > 0).any()
    assert drawn[42:75, 18:23].sum() == 0
