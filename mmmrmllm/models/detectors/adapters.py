"""Detector adapters: run an mmdet detector's head on given features.

mmdet detectors' ``loss``/``predict`` take *images* and call
``extract_feat`` inside. Every family's body then only calls public head
methods, so one adapter per mmdet base class mirrors those bodies on
features that the joint model may have changed (PerceptionFeedback). The
backbone therefore runs once per image, and so does the head:
``loss_and_predict_from_feats`` decodes the training forward's own outputs
(no-grad copies; DETR denoising queries excluded) instead of running the
head a second time for the detections the LLM reads.
"""
import contextlib
import copy
import logging
from typing import Any, Dict, List, Sequence, Tuple, Type

import torch
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


_register_adapter = register_detector_adapter  # the built-in adapters


def _detach(obj: Any) -> Any:
    """``obj`` with every tensor detached (nested lists / tuples)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach()
    if isinstance(obj, (list, tuple)):
        return type(obj)(_detach(o) for o in obj)
    return obj


@contextlib.contextmanager
def capture_forward(module: nn.Module):
    """Record the outputs of ``module``'s forward calls inside the block.

    mmdet's head ``loss`` methods call ``self(...)`` once and turn its
    outputs into losses; capturing them lets the adapters decode the same
    outputs instead of calling the head again.

    Yields:
        list: The outputs, in call order.
    """
    outs = []
    handle = module.register_forward_hook(
        lambda mod, args, out: outs.append(out))
    try:
        yield outs
    finally:
        handle.remove()


@contextlib.contextmanager
def eval_mode(module: nn.Module):
    """``module`` in eval mode inside the block (its mode restored after)."""
    was = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was)


def _metas(samples: SampleList) -> List[dict]:
    """The samples' metainfo, with what some heads' decoding reads filled
    in where a training pipeline does not set it: CenterNet's ``border``
    (the image's place in a test-time crop; no crop: the whole image)."""
    metas = []
    for s in samples:
        meta = dict(s.metainfo)
        h, w = meta.get('img_shape', meta.get('batch_input_shape', (0, 0)))
        meta.setdefault('border', (0, h, 0, w))
        metas.append(meta)
    return metas


def _with_metas(samples: SampleList) -> SampleList:
    """Shallow copies of ``samples`` whose metainfo has :func:`_metas`'s
    defaults (for heads whose ``predict`` reads them)."""
    out = []
    for s, meta in zip(samples, _metas(samples)):
        c = s.clone()
        c.set_metainfo(meta)
        out.append(c)
    return out


def ensure_loop_info() -> None:
    """Give heads that read the training loop what they read.

    Some heads read the loop's position from MMEngine's message hub (TOOD
    switches its assigner after ``train_cfg.initial_epoch`` epochs). The
    runner's ``RuntimeInfoHook`` sets ``epoch`` / ``iter``; outside a
    runner (the benchmark, inference, a user's script, tests) they are
    missing and such a head fails. Missing values are set to 0 here;
    values a runner or :class:`~mmmrmllm.engine.hooks.EpochFromIterHook`
    set are left alone.
    """
    from mmengine.logging import MessageHub
    hub = MessageHub.get_current_instance()
    for key in ('epoch', 'iter'):
        if hub.get_info(key) is None:
            hub.update_info(key, 0)


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

        Returns:
            tuple[dict, list[InstanceData]]: Losses and per-image results
            (``bboxes``, ``labels``, ``scores``, no gradient).
        """
        raise NotImplementedError


@_register_adapter(SingleStageDetector)
class SingleStageAdapter(BaseDetectorAdapter):
    """RetinaNet, FCOS, RTMDet, YOLOX, ATSS, ... (``bbox_head`` only)."""

    def loss_from_feats(self, feats, samples):
        return self.detector.bbox_head.loss(tuple(feats), samples)

    def predict_from_feats(self, feats, samples, rescale=True):
        return self.detector.bbox_head.predict(
            tuple(feats), _with_metas(samples), rescale=rescale)

    def loss_and_predict_from_feats(self, feats, samples, rescale=True):
        head = self.detector.bbox_head
        with capture_forward(head) as outs:
            losses = head.loss(tuple(feats), samples)
        with torch.no_grad():
            if self.decodes_training_outputs:
                try:
                    return losses, head.predict_by_feat(
                        *_detach(outs[-1]), batch_img_metas=_metas(samples),
                        rescale=rescale)
                except (RuntimeError, TypeError, ValueError,
                        IndexError) as err:
                    self._stop_decoding(head, err)
            with eval_mode(head):
                return losses, self.predict_from_feats(
                    _detach(feats), samples, rescale)


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
                    _detach(feats), samples, rescale)
        feats = tuple(feats)
        with capture_forward(det.rpn_head) as rpn_outs:
            losses = self.loss_from_feats(feats, samples)
        with torch.no_grad():
            proposals = det.rpn_head.predict_by_feat(
                *_detach(rpn_outs[-1]), batch_img_metas=_metas(samples),
                rescale=False)
            results = det.roi_head.predict(
                _detach(feats), proposals, samples, rescale=rescale)
        return losses, results

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
        cls_scores, bbox_preds = _detach(outs[-1])[:2]
        dn_meta = head_inputs.get('dn_meta')
        if dn_meta:
            # denoising queries (DINO, DN-DETR) come first: drop them
            num_dn = dn_meta['num_denoising_queries']
            cls_scores = cls_scores[:, :, num_dn:]
            bbox_preds = bbox_preds[:, :, num_dn:]
        with torch.no_grad():
            results = head.predict_by_feat(
                cls_scores, bbox_preds, batch_img_metas=_metas(samples),
                rescale=rescale, **self._decode_kwargs(samples))
        return losses, results

    def predict_from_feats(self, feats, samples, rescale=True):
        head_inputs = self._head_inputs(feats, samples)
        return self.detector.bbox_head.predict(
            **head_inputs, rescale=rescale, batch_data_samples=samples)


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
                        'mmmrmllm/models/detectors/adapters.py).')
            return _ADAPTERS[cls](detector)
    supported = ', '.join(c.__name__ for c in _ADAPTERS)
    raise NotImplementedError(
        f'No detector adapter for {name}: it derives from none of '
        f'{supported}.')


class GroundingDINOAdapter(DETRAdapter):
    """Grounding DINO (mmdet's ``GroundingDINO``, the detector of LLMDet):
    a text-conditioned DINO. The dataset's class names become its text
    prompt (``'circle . square . triangle'``, mmdet's custom-entities
    form), so its predicted labels index the classes like any detector's.

    The prompt is the sample's ``text`` where the pipeline set one, else
    the sample's ``metainfo['classes']``, else :attr:`class_names` (set by
    the joint model from its ``class_names``).
    """

    class_names: Tuple[str, ...] = ()

    def _prompt(self, samples: SampleList) -> Tuple[str, ...]:
        first = samples[0]
        text = first.get('text', None) or first.metainfo.get('classes') \
            or self.class_names
        if not text:
            raise ValueError(
                'Grounding DINO needs class names for its text prompt: set '
                'model.class_names or the dataset metainfo classes')
        return tuple(text) if not isinstance(text, str) else text

    def _text(self, samples: SampleList):
        det = self.detector
        tokenized, caption, tokens_positive, _ = det.get_tokens_and_prompts(
            self._prompt(samples), True)
        text_dict = det.language_model([caption] * len(samples))
        if det.text_feat_map is not None:
            text_dict['embedded'] = det.text_feat_map(text_dict['embedded'])
        return tokenized, tokens_positive, text_dict

    def _with_targets(self, samples: SampleList, tokenized, tokens_positive,
                      text_dict) -> None:
        """What mmdet's ``GroundingDINO.loss`` adds to the ground truth."""
        det = self.detector
        for i, s in enumerate(samples):
            labels = s.gt_instances.labels
            _, positive_map = det.get_positive_map(
                tokenized, [tokens_positive[int(lb)] for lb in labels])
            positive_map = positive_map.to(labels.device).bool().float()
            s.gt_instances.positive_maps = positive_map
            s.gt_instances.text_token_mask = text_dict['text_token_mask'][
                i].unsqueeze(0).repeat(len(positive_map), 1)

    def _token_positive_map(self, samples: SampleList) -> dict:
        """Class index + 1 -> the prompt's token positions (tokenised once
        per prompt, not once per step)."""
        prompt = self._prompt(samples)
        cache = self.__dict__.setdefault('_positive_maps', {})
        if prompt not in cache:
            cache[prompt] = self.detector.get_tokens_positive_and_prompts(
                prompt, True)[0]
        return cache[prompt]

    def _head_inputs(self, feats, samples, with_targets: bool = False):
        tokenized, tokens_positive, text_dict = self._text(samples)
        if with_targets:
            self._with_targets(samples, tokenized, tokens_positive,
                               text_dict)
        return self.detector.forward_transformer(tuple(feats), text_dict,
                                                 samples)

    def _decode_kwargs(self, samples) -> dict:
        return dict(batch_token_positive_maps=[
            self._token_positive_map(samples)] * len(samples))

    def predict_from_feats(self, feats, samples, rescale=True):
        # the head's predict reads each sample's token_positive_map
        samples = _with_metas(samples)
        positive = self._token_positive_map(samples)
        for s in samples:
            s.token_positive_map = positive
        return super().predict_from_feats(feats, samples, rescale)


def _register_grounding_dino() -> None:
    from mmdet.models.detectors import GroundingDINO
    _register_adapter(GroundingDINO)(GroundingDINOAdapter)


_register_grounding_dino()
