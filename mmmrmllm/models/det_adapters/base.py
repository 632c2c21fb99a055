"""The detector adapter interface, its registry and the choice of an
adapter for a detector."""
import logging
from typing import Dict, List, Optional, Sequence, Tuple, Type

import torch
from mmdet.structures import SampleList
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmmrmllm.registry import MODELS

_ADAPTERS: Dict[type, Type['BaseDetectorAdapter']] = {}


def register_detector_adapter(base: type, force: bool = False):
    """Class decorator: the adapter for detectors of class ``base`` (and its
    subclasses that do not override ``loss`` / ``predict``).

    Example::

        @register_detector_adapter(MyDetector)
        class MyAdapter(BaseDetectorAdapter):
            def loss_from_feats(self, feats, samples): ...
            def predict_from_feats(self, feats, samples, rescale=True): ...
            def loss_and_predict_from_feats(self, feats, samples,
                                            rescale=True): ...

    The adapter is also registered in ``MODELS`` under its class name.

    Args:
        base (type): The mmdet detector class it serves.
        force (bool): Replace an adapter already registered for ``base``.
    """

    def wrap(cls):
        if not issubclass(cls, BaseDetectorAdapter):
            raise TypeError(f'{cls.__name__} must subclass '
                            'BaseDetectorAdapter')
        if base in _ADAPTERS and not force:
            raise KeyError(f'{base.__name__} already has the adapter '
                           f'{_ADAPTERS[base].__name__} (force=True to '
                           'replace it)')
        cls.detector_base = base
        _ADAPTERS[base] = cls
        return MODELS.register_module(force=force)(cls)

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
        # False once a head's training outputs proved not decodable
        self.decodes_training_outputs = True

    def _stop_decoding(self, head: nn.Module, err: Exception) -> None:
        """Fall back to a second, no-grad head pass for the detections.

        Some heads return other outputs in training than in inference
        (RepPoints: point sets instead of boxes), so ``predict_by_feat``
        cannot decode the training forward.
        """
        from mmengine.logging import print_log
        self.decodes_training_outputs = False
        print_log(
            f'{type(head).__name__}: its training outputs cannot be '
            f'decoded ({type(err).__name__}: {str(err)[:120]}); the '
            'detections the LLM reads come from a second, no-grad head '
            'pass from now on.',
            logger='current',
            level=logging.WARNING)

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

    def loss_and_predict_from_feats(
            self,
            feats: Sequence[Tensor],
            samples: SampleList,
            rescale: bool = True) -> Tuple[dict, List[InstanceData]]:
        """The training forward's losses and its own outputs decoded.

        One head pass: the losses are exactly :meth:`loss_from_feats`'s;
        the detections come from no-grad copies of the same head outputs,
        decoded with the head's ``test_cfg`` (as ``predict`` would).

        Args:
            feats (Sequence[Tensor]): Levels, each (B, C, Hl, Wl).
            samples (list[DetDataSample]): With ``gt_instances``.
            rescale (bool): Rescale boxes to the original image.

        The default (for an adapter that only writes the other two
        methods) is two head passes: :meth:`loss_from_feats`, then a
        no-grad, eval-mode :meth:`predict_from_feats` over the same
        features. The adapters of mmdet's families override it with one.

        Returns:
            tuple[dict, list[InstanceData]]: Losses and per-image results
            (``bboxes``, ``labels``, ``scores``, no gradient).
        """
        losses = self.loss_from_feats(feats, samples)
        was_training = self.detector.training
        self.detector.train(False)
        try:
            with torch.no_grad():
                results = self.predict_from_feats(
                    [f.detach() for f in feats], samples, rescale=rescale)
        finally:
            self.detector.train(was_training)
        return losses, results


def adapter_class(detector_cls: type) -> Optional[type]:
    """The adapter class :func:`build_detector_adapter` picks for a
    detector of class ``detector_cls`` (None: none is registered for any
    of its bases)."""
    for cls in detector_cls.__mro__:
        if cls in _ADAPTERS:
            return _ADAPTERS[cls]
    return None


def build_detector_adapter(detector: nn.Module) -> BaseDetectorAdapter:
    """Pick the adapter of the most specific mmdet base class of
    ``detector``.

    A detector that overrides ``loss``/``predict`` below its base class
    (GLIP, distillation or semi-supervised wrappers, ...) computes something
    the adapter would not mirror, so it is refused with an error naming it,
    unless an adapter is registered for it
    (:func:`register_detector_adapter`). An ``extract_feat`` override is
    fine: the adapters call the detector's own ``extract_feat``.

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
                        'mmmrmllm/models/det_adapters/).')
            return _ADAPTERS[cls](detector)
    supported = ', '.join(c.__name__ for c in _ADAPTERS)
    raise NotImplementedError(
        f'No detector adapter for {name}: it derives from none of '
        f'{supported}.')
