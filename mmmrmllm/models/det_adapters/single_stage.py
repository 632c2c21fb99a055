"""The adapter of one-stage dense detectors (``SingleStageDetector``)."""
import torch
from mmdet.models.detectors import SingleStageDetector

from .base import BaseDetectorAdapter, register_detector_adapter
from .utils import (
    capture_forward,
    decode_metas,
    detach,
    eval_mode,
    with_decode_metas,
)


@register_detector_adapter(SingleStageDetector)
class SingleStageAdapter(BaseDetectorAdapter):
    """RetinaNet, FCOS, RTMDet, YOLOX, ATSS, ... (``bbox_head`` only)."""

    def loss_from_feats(self, feats, samples):
        return self.detector.bbox_head.loss(tuple(feats), samples)

    def predict_from_feats(self, feats, samples, rescale=True):
        return self.detector.bbox_head.predict(
            tuple(feats), with_decode_metas(samples), rescale=rescale)

    def loss_and_predict_from_feats(self, feats, samples, rescale=True):
        head = self.detector.bbox_head
        with capture_forward(head) as outs:
            losses = head.loss(tuple(feats), samples)
        with torch.no_grad():
            if self.decodes_training_outputs:
                try:
                    return losses, head.predict_by_feat(
                        *detach(outs[-1]),
                        batch_img_metas=decode_metas(samples),
                        rescale=rescale)
                except (RuntimeError, TypeError, ValueError,
                        IndexError) as err:
                    self._stop_decoding(head, err)
            with eval_mode(head):
                return losses, self.predict_from_feats(
                    detach(feats), samples, rescale)
