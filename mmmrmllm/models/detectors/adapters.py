"""Detector adapters: run an mmdet detector's head on given features.

mmdet detectors' ``loss``/``predict`` take *images* and call
``extract_feat`` inside. Every family's body then only calls public head
methods, so one adapter per mmdet base class mirrors those bodies on
features that the joint model may have changed (PerceptionFeedback). The
backbone therefore runs once per image.
"""
import copy
from typing import Dict, List, Sequence, Tuple, Type

from mmdet.models.detectors import (
    DetectionTransformer,
    SingleStageDetector,
    TwoStageDetector,
)
from mmdet.structures import SampleList
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmmrmllm.registry import MODELS

_ADAPTERS: Dict[type, Type['BaseDetectorAdapter']] = {}


def _register_adapter(base: type):

    def wrap(cls):
        cls.detector_base = base
        _ADAPTERS[base] = cls
        return MODELS.register_module()(cls)

    return wrap


class BaseDetectorAdapter:
    """Adapter around one mmdet detector (it holds no weights of its own,
    so it is a plain object, not a submodule of the joint model).

    Args:
        detector (nn.Module): The mmdet detector.
    """

    detector_base: type = object

    def __init__(self, detector: nn.Module) -> None:
        self.detector = detector

    def extract(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """Backbone (+ neck) features.

        Args:
            inputs (Tensor): Normalised, padded images, (B, 3, Hp, Wp).

        Returns:
            tuple[Tensor]: Levels, each (B, C, Hl, Wl).
        """
        return self.detector.extract_feat(inputs)

    def loss_from_feats(self, feats: Sequence[Tensor],
                        samples: SampleList) -> dict:
        """The detector's ``loss`` body after ``extract_feat``.

        Args:
            feats (Sequence[Tensor]): Levels, each (B, C, Hl, Wl).
            samples (list[DetDataSample]): With ``gt_instances``.

        Returns:
            dict: The detector's losses.
        """
        raise NotImplementedError

    def predict_from_feats(self,
                           feats: Sequence[Tensor],
                           samples: SampleList,
                           rescale: bool = True) -> List[InstanceData]:
        """The detector's ``predict`` body after ``extract_feat``.

        Unlike mmdet's ``predict`` this returns the per-image results and
        leaves the samples untouched.

        Args:
            feats (Sequence[Tensor]): Levels, each (B, C, Hl, Wl).
            samples (list[DetDataSample]): Metainfo carriers.
            rescale (bool): Rescale boxes to the original image.

        Returns:
            list[InstanceData]: ``bboxes`` (N, 4) xyxy, ``labels`` (N,),
            ``scores`` (N,) per image.
        """
        raise NotImplementedError


@_register_adapter(SingleStageDetector)
class SingleStageAdapter(BaseDetectorAdapter):
    """RetinaNet, FCOS, RTMDet, YOLOX, ATSS, ... (``bbox_head`` only)."""

    def loss_from_feats(self, feats, samples):
        return self.detector.bbox_head.loss(tuple(feats), samples)

    def predict_from_feats(self, feats, samples, rescale=True):
        return self.detector.bbox_head.predict(
            tuple(feats), samples, rescale=rescale)


@_register_adapter(TwoStageDetector)
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

    def predict_from_feats(self, feats, samples, rescale=True):
        det = self.detector
        feats = tuple(feats)
        proposals = self._proposals(samples)
        if proposals is None:
            proposals = det.rpn_head.predict(feats, samples, rescale=False)
        return det.roi_head.predict(
            feats, proposals, samples, rescale=rescale)


@_register_adapter(DetectionTransformer)
class DETRAdapter(BaseDetectorAdapter):
    """DETR, Deformable DETR, DINO, Conditional / DAB-DETR, ..."""

    def loss_from_feats(self, feats, samples):
        det = self.detector
        head_inputs = det.forward_transformer(tuple(feats), samples)
        return det.bbox_head.loss(**head_inputs, batch_data_samples=samples)

    def predict_from_feats(self, feats, samples, rescale=True):
        det = self.detector
        head_inputs = det.forward_transformer(tuple(feats), samples)
        return det.bbox_head.predict(
            **head_inputs, rescale=rescale, batch_data_samples=samples)


def build_detector_adapter(detector: nn.Module) -> BaseDetectorAdapter:
    """Pick the adapter of the most specific mmdet base class of
    ``detector``.

    A detector that overrides ``loss``/``predict``/``extract_feat`` below its
    base class (GLIP, Grounding DINO, distillation or semi-supervised
    wrappers, ...) computes something the adapter would not mirror, so it is
    refused with an error naming it.

    Args:
        detector (nn.Module): An mmdet detector.

    Returns:
        BaseDetectorAdapter: Its adapter.
    """
    name = type(detector).__name__
    mro = type(detector).__mro__
    for i, cls in enumerate(mro):
        if cls in _ADAPTERS:
            for sub in mro[:i]:
                own = {'loss', 'predict'} & set(vars(sub))
                if own:
                    raise NotImplementedError(
                        f'No detector adapter for {name}: '
                        f'{sub.__name__} overrides {sorted(own)} of '
                        f'{cls.__name__}, so its loss/predict cannot run on '
                        'given features. Write an adapter for it (see '
                        'mmmrmllm/models/detectors/adapters.py).')
            return _ADAPTERS[cls](detector)
    supported = ', '.join(c.__name__ for c in _ADAPTERS)
    raise NotImplementedError(
        f'No detector adapter for {name}: it derives from none of '
        f'{supported}.')
