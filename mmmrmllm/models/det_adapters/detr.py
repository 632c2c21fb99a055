"""The adapter of DETR-like detectors (``DetectionTransformer``)."""
import torch
from mmdet.models.detectors import DetectionTransformer

from .base import BaseDetectorAdapter, register_detector_adapter
from .utils import capture_forward, decode_metas, detach


@register_detector_adapter(DetectionTransformer)
class DETRAdapter(BaseDetectorAdapter):
    """DETR, Deformable DETR, DINO, Conditional / DAB-DETR, ..."""

    def _head_inputs(self, feats, samples, with_targets: bool = False):
        """``forward_transformer``'s outputs: the head's inputs."""
        return self.detector.forward_transformer(tuple(feats), samples)

    def _decode_kwargs(self, samples) -> dict:
        """Extra arguments of the head's ``predict_by_feat``."""
        return {}

    def loss_from_feats(self, feats, samples):
        head_inputs = self._head_inputs(feats, samples, with_targets=True)
        return self.detector.bbox_head.loss(
            **head_inputs, batch_data_samples=samples)

    def loss_and_predict_from_feats(self, feats, samples, rescale=True):
        head = self.detector.bbox_head
        head_inputs = self._head_inputs(feats, samples, with_targets=True)
        with capture_forward(head) as outs:
            losses = head.loss(**head_inputs, batch_data_samples=samples)
        cls_scores, bbox_preds = detach(outs[-1])[:2]
        # training adds query groups that inference never decodes: the
        # denoising queries before the matching ones (DINO, DN-DETR) and
        # groups after them (DDQ-DETR's dense queries). Decode what
        # ``predict`` would: the ``num_queries`` matching queries.
        dn_meta = head_inputs.get('dn_meta') or {}
        start = dn_meta.get('num_denoising_queries', 0)
        kept = slice(start, start + self.detector.num_queries)
        cls_scores, bbox_preds = cls_scores[:, :, kept], bbox_preds[:, :, kept]
        with torch.no_grad():
            results = head.predict_by_feat(
                cls_scores, bbox_preds, batch_img_metas=decode_metas(samples),
                rescale=rescale, **self._decode_kwargs(samples))
        return losses, results

    def predict_from_feats(self, feats, samples, rescale=True):
        head_inputs = self._head_inputs(feats, samples)
        return self.detector.bbox_head.predict(
            **head_inputs, rescale=rescale, batch_data_samples=samples)
