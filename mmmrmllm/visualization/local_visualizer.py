from typing import Optional

import cv2
import mmcv
import numpy as np
from mmdet.visualization import DetLocalVisualizer

from mmmrmllm.registry import VISUALIZERS

from .answer_text import format_answers


def to_image_frame(data_sample, image_hw):
    """A copy of ``data_sample`` whose boxes are tensors in the frame of
    the image being drawn on.

    Predictions come back in the original frame (``rescale=True``), but the
    ground truth is in the frame of the pipeline that produced it: when
    ``LoadAnnotations`` runs before ``Resize`` (our test pipelines reuse the
    train one), it is in the resized frame. Ground truth is mapped back with
    the sample's ``scale_factor`` when the image drawn on has the original
    size (``ori_shape``) and the resized one (``img_shape``) differs.
    Box objects (``HorizontalBoxes``) become ``(N, 4)`` tensors, which is
    what mmdet's visualizer can draw.

    Args:
        data_sample (DetDataSample): The sample (left unchanged).
        image_hw (tuple[int, int]): Height and width of the image drawn on.

    Returns:
        DetDataSample: The copy to draw.
    """
    from mmdet.structures.bbox import BaseBoxes
    sample = data_sample.clone()  # shallow: instances are cloned below
    for key in ('gt_instances', 'pred_instances', 'ignored_instances'):
        inst = getattr(sample, key, None)
        if inst is None:
            continue
        inst = inst.clone()
        setattr(sample, key, inst)
        if 'bboxes' in inst and isinstance(
                inst.bboxes, BaseBoxes):
            inst.bboxes = inst.bboxes.tensor
    gt = getattr(sample, 'gt_instances', None)
    meta = sample.metainfo
    if (gt is None or 'bboxes' not in gt or len(gt) == 0
            or 'scale_factor' not in meta or 'ori_shape' not in meta
            or 'img_shape' not in meta):
        return sample
    hw = tuple(int(v) for v in image_hw)
    if (hw != tuple(meta['ori_shape'][:2])
            or tuple(meta['img_shape'][:2]) == hw):
        return sample
    sx, sy = meta['scale_factor'][:2]
    scale = gt.bboxes.new_tensor([sx, sy, sx, sy])
    gt.bboxes = gt.bboxes / scale
    return sample


@VISUALIZERS.register_module()
class MRMLLMVisualizer(DetLocalVisualizer):
    """mmdet's detection visualizer plus the questions and answers.

    The image with ground-truth and/or predicted boxes (as drawn by
    :class:`DetLocalVisualizer`) gets a text panel underneath with one line
    per question: the question, the predicted answer and the references.
    """

    def draw_answers(self, image: np.ndarray, data_sample) -> np.ndarray:
        """Append a white panel with the question/answer lines.

        Args:
            image (np.ndarray): (H, W, 3) RGB uint8.
            data_sample: A sample with ``questions`` / ``pred_answers``.

        Returns:
            np.ndarray: (H + h_text, W', 3) RGB uint8.
        """
        lines = format_answers(data_sample) if data_sample is not None \
            else []
        if not lines:
            return image
        scale, thickness, line_h = 0.4, 1, 14
        width = max(
            [image.shape[1]] +
            [cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale,
                             thickness)[0][0] + 8 for line in lines])
        panel = np.full((line_h * len(lines) + 6, width, 3), 255, np.uint8)
        for i, line in enumerate(lines):
            cv2.putText(panel, line, (4, line_h * (i + 1)),
                        cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness,
                        cv2.LINE_AA)
        canvas = np.full((image.shape[0], width, 3), 255, np.uint8)
        canvas[:, :image.shape[1]] = image
        return np.concatenate([canvas, panel], axis=0)

    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample=None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       pred_score_thr: float = 0.3,
                       step: int = 0) -> None:
        """Draw boxes (mmdet) and answers; show, save or log the result."""
        if data_sample is not None:
            data_sample = to_image_frame(data_sample, image.shape[:2])
        # Let mmdet draw the boxes without storing anything yet.
        backends, self._vis_backends = self._vis_backends, {}
        try:
            super().add_datasample(
                name, image, data_sample, draw_gt=draw_gt,
                draw_pred=draw_pred, show=False, out_file=None,
                pred_score_thr=pred_score_thr, step=step)
        finally:
            self._vis_backends = backends
        drawn = self.draw_answers(self.get_image(), data_sample)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(drawn[..., ::-1], out_file)
        else:
            self.add_image(name, drawn, step)
