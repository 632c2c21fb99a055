"""The adapter of two-stage detectors (``TwoStageDetector``)."""
import copy

import torch
from mmdet.models.detectors import TwoStageDetector

from .base import BaseDetectorAdapter, register_detector_adapter
from .utils import capture_forward, decode_metas, detach


@register_detector_adapter(TwoStageDetector)
class TwoStageAdapter(BaseDetectorAdapter):
    """Faster / Mask / Cascade R-CNN, ... (``rpn_head`` + ``roi_head``)."""

    def _proposals(self, samples):
        if samples[0].get('proposals', None) is None:
            return None
        return [s.proposals for s in samples]

    def loss_from_feats(self, feats, samples):
        det = self.detector
        feats = tuple(feats)
        losses = dict()
        proposals = self._proposals(samples)
        if det.with_rpn:
            proposal_cfg = det.train_cfg.get('rpn_proposal', det.test_cfg.rpn)
            rpn_samples = copy.deepcopy(samples)
            for sample in rpn_samples:
                sample.gt_instances.labels = \
                    sample.gt_instances.labels.new_zeros(
                        sample.gt_instances.labels.shape)
            rpn_losses, proposals = det.rpn_head.loss_and_predict(
                feats, rpn_samples, proposal_cfg=proposal_cfg)
            for key in list(rpn_losses):
                if 'loss' in key and 'rpn' not in key:
                    rpn_losses[f'rpn_{key}'] = rpn_losses.pop(key)
            losses.update(rpn_losses)
        elif proposals is None:
            raise ValueError(f'{type(det).__name__} has no RPN and the '
                             'samples carry no proposals')
        losses.update(det.roi_head.loss(feats, proposals, samples))
        return losses

    def loss_and_predict_from_feats(self, feats, samples, rescale=True):
        """The RPN and the backbone run once; the R-CNN head runs a second,
        no-grad time: in training it sees sampled proposals (and the ground
        truth), not the ranked ones its predictions come from."""
        det = self.detector
        if not det.with_rpn or not hasattr(det.rpn_head, 'predict_by_feat'):
            # no RPN, or one without outputs to decode (Sparse R-CNN's
            # learned proposals): predict on the same features, no grad
            losses = self.loss_from_feats(feats, samples)
            with torch.no_grad():
                return losses, self.predict_from_feats(
                    detach(feats), samples, rescale)
        feats = tuple(feats)
        with capture_forward(det.rpn_head) as rpn_outs:
            losses = self.loss_from_feats(feats, samples)
        with torch.no_grad():
            proposals = det.rpn_head.predict_by_feat(
                *detach(rpn_outs[-1]), batch_img_metas=decode_metas(samples),
                rescale=False)
            results = det.roi_head.predict(
                detach(feats), proposals, samples, rescale=rescale)
        return losses, results

    def predict_from_feats(self, feats, samples, rescale=True):
        det = self.detector
        feats = tuple(feats)
        proposals = self._proposals(samples)
        if proposals is None:
            proposals = det.rpn_head.predict(feats, samples, rescale=False)
        return det.roi_head.predict(
            feats, proposals, samples, rescale=rescale)
