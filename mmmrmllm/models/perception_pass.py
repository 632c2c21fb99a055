"""The shared trunk's forward: detector, vision encoder, fusion, feedback,
one detector-head pass, and the detections the LLM side reads.

:class:`PerceptionPassMixin` is the perception half of :class:`MRMLLM`
(which owns the parts and the switches); the pure helpers below turn head
results into the normalised :class:`Detections` and replace them by
corrupted ground truth on the ground-truth schedule.
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import MessageHub
from mmengine.structures import InstanceData
from torch import Tensor

from mmmrmllm.structures import has_det_ann
from mmmrmllm.text import PerceptionObjects
from mmmrmllm.utils.part_timer import timed_part

from .det_adapters import ensure_loop_info
from .gt_schedule import GTPerceptionSchedule, corrupt_objects

# Detections of one image for box tokens and the prompt: boxes (K, 4) xyxy
# normalised to [0, 1], labels (K,), scores (K,) -- the same record the
# prompt generator selects from.
Detections = PerceptionObjects


class PerceptionState(NamedTuple):
    """What one forward of the shared trunk produced.

    Attributes:
        feats: Detector neck features.
        feats_fb: The same after feedback (what the head saw).
        det_results: The head's per-image results (predictions in
            inference; no-grad decoded training outputs in training).
        detections: Normalised detections the LLM side read.
        queries: Shared queries (B, Nq, C).
        llm_box_tokens: Per-image box tokens for the LLM.
        det_losses: The detector's losses (training).
        fusion_inputs: The fusion's arguments, kept to compute
            instruction-aware queries per question
            (``use_instruction_in_fusion``; None otherwise).
        visual: The vision encoder's output (``VisualTokens``), for losses
            on its patch tokens (None without a vision encoder).
    """
    feats: Optional[Tuple[Tensor, ...]]
    feats_fb: Optional[Tuple[Tensor, ...]]
    det_results: Optional[List[InstanceData]]
    detections: Optional[List[Detections]]
    queries: Optional[Tensor]
    llm_box_tokens: Optional[List[Tensor]]
    det_losses: dict = {}
    fusion_inputs: Optional[dict] = None
    visual: Optional[tuple] = None


def normalise_detections(results: Sequence[InstanceData],
                         samples: Sequence,
                         rescaled: bool = True) -> List[Detections]:
    """Boxes as fractions of the image they are expressed in
    (``ori_shape`` when rescaled, else ``img_shape``)."""
    key = 'ori_shape' if rescaled else 'img_shape'
    out = []
    for r, s in zip(results, samples):
        h, w = s.metainfo[key][:2]
        scale = r.bboxes.new_tensor([w, h, w, h])
        out.append(
            Detections((r.bboxes / scale).clamp(0, 1), r.labels, r.scores))
    return out


def gt_detections(samples: Sequence, fallback: List[Detections],
                  schedule: GTPerceptionSchedule,
                  num_classes: int) -> List[Detections]:
    """Corrupted ground truth instead of ``fallback`` (the detections) for
    annotated samples, each with the schedule's current probability.

    The corruption's generator is seeded from torch's, so runs are seeded
    and resumed like the rest of training.
    """
    it = MessageHub.get_current_instance().get_info('iter', 0)
    prob = schedule.prob(it)
    rng = np.random.default_rng(int(torch.randint(2**31, ())))
    out = []
    for s, pred in zip(samples, fallback):
        if not has_det_ann(s) or rng.random() >= prob:
            out.append(pred)
            continue
        gt = s.gt_instances
        boxes = gt.bboxes
        boxes = boxes.tensor if hasattr(boxes, 'tensor') else boxes
        h, w = s.metainfo['img_shape'][:2]
        boxes = boxes / boxes.new_tensor([w, h, w, h])
        nb, nl = corrupt_objects(rng, boxes.detach().cpu().numpy(),
                                 gt.labels.cpu().numpy(), num_classes,
                                 **schedule.corrupt)
        boxes = torch.as_tensor(nb, dtype=boxes.dtype, device=boxes.device)
        labels = torch.as_tensor(nl, device=gt.labels.device)
        out.append(
            Detections(boxes, labels,
                       torch.ones_like(labels, dtype=boxes.dtype)))
    return out


def select_feats(feats: Sequence[Tensor], ids: List[int],
                 batch_size: int) -> Tuple[Tensor, ...]:
    """The per-level features of the images ``ids`` of the batch."""
    if len(ids) == batch_size:
        return tuple(feats)
    sel = torch.tensor(ids, device=feats[0].device)
    return tuple(f.index_select(0, sel) for f in feats)


class PerceptionPassMixin:
    """The perception forward of :class:`MRMLLM`.

    Order: detector backbone + neck → vision encoder → fusion → feedback →
    the detector head's single pass over the fed-back features, whose
    decoded outputs give the detections for the LLM's box tokens and prompt
    (and, in inference, the predictions). Box tokens *into the fusion* need
    detections before the fusion: with feedback on, that takes a no-grad
    pre-pass of the head over the features before feedback (a second head
    pass, which only this switch costs); without feedback the single pass
    simply moves first.
    """

    # ------------------------------------------------------------ classes
    def _classes(self, samples: Sequence) -> List[str]:
        if self.class_names:
            return self.class_names
        for s in samples:
            classes = s.metainfo.get('classes')
            if classes:
                return list(classes)
        meta = getattr(self, 'dataset_meta', None) or {}
        if meta.get('classes'):
            return list(meta['classes'])
        raise ValueError('MRMLLM needs the class names for box tokens / the '
                         'perception prompt: set class_names or put '
                         "'classes' in the samples' metainfo")

    def _label_embeds(self, names: Sequence[str]) -> Tensor:
        key = tuple(names)
        if self.llm.frozen and key in self._label_cache:
            return self._label_cache[key]
        emb = self.llm.embed_texts(names)
        if self.llm.frozen:
            self._label_cache = {key: emb}
        return emb

    # --------------------------------------------------------- head pass
    @torch.no_grad()
    def _detect(self, feats: Sequence[Tensor], samples: Sequence,
                rescale: bool = True) -> List[InstanceData]:
        """A no-grad, eval-mode head pass (training-mode DETR heads add
        denoising queries)."""
        was_training = self.detector.training
        self.detector.train(False)
        try:
            with timed_part(self, 'detector.head', len(samples)):
                return self.det_adapter.predict_from_feats(
                    feats, list(samples), rescale=rescale)
        finally:
            self.detector.train(was_training)

    def _det_pass(self, feats: Sequence[Tensor], samples: Sequence,
                  training: bool, want_results: bool, rescale: bool = True):
        """The detector head's one pass over (possibly fed-back) features.

        Training: the detection loss over the samples with annotated boxes
        and, if ``want_results``, their detections decoded from the same
        forward (no-grad copies, denoising queries excluded); samples
        without annotated boxes take a no-grad, eval-mode pass. Inference:
        the predictions. Each image goes through the head once.

        Returns:
            tuple[dict, list[InstanceData] | None]: Losses (empty in
            inference) and per-image results in batch order.
        """
        ensure_loop_info()
        if not training:
            with timed_part(self, 'detector.head', len(samples)):
                return {}, self.det_adapter.predict_from_feats(
                    feats, list(samples), rescale=rescale)
        idx = [i for i, s in enumerate(samples) if has_det_ann(s)]
        rest = [i for i in range(len(samples)) if i not in set(idx)]
        losses, results = {}, [None] * len(samples)
        if idx:
            sub = [samples[i] for i in idx]
            sub_feats = select_feats(feats, idx, len(samples))
            with timed_part(self, 'detector.head', len(idx)):
                if want_results:
                    losses, res = self.det_adapter.\
                        loss_and_predict_from_feats(sub_feats, sub,
                                                    rescale=rescale)
                    for i, r in zip(idx, res):
                        results[i] = r
                else:
                    losses = self.det_adapter.loss_from_feats(sub_feats, sub)
        if want_results and rest:
            res = self._detect(select_feats(feats, rest, len(samples)),
                               [samples[i] for i in rest], rescale)
            for i, r in zip(rest, res):
                results[i] = r
        return losses, results if want_results else None

    def _detections(self, results: List[InstanceData], samples: Sequence,
                    training: bool, rescaled: bool) -> List[Detections]:
        """Normalised detections for box tokens and the prompt (with the
        scheduled ground truth in training)."""
        detections = normalise_detections(results, samples, rescaled)
        if training and self.gt_schedule is not None:
            detections = gt_detections(samples, detections, self.gt_schedule,
                                       len(self._classes(samples)))
        return detections

    def _box_tokens(self, detections: List[Detections],
                    samples: Sequence) -> dict:
        names = self._classes(samples)
        with timed_part(self, 'perception_encoder', len(samples)):
            return self.perception_encoder(
                [d.boxes for d in detections], [d.labels for d in detections],
                [d.scores for d in detections], self._label_embeds(names))

    # ------------------------------------------------------------ forward
    def _perceive(self, inputs: dict, samples: Sequence, training: bool,
                  outputs: bool = True,
                  rescale: bool = True) -> PerceptionState:
        """One forward of the shared trunk (order in the class docstring).

        Args:
            training (bool): Loss forward (detection losses, ground-truth
                schedule) or inference.
            outputs (bool): Run the head for the predictions even if
                nothing else needs them (False for ``mode='tensor'``).
            rescale (bool): Predictions in original-image pixels.
        """
        feats = None
        if self.detector is not None:
            with timed_part(self, 'detector.extract', len(samples)):
                feats = tuple(self.det_adapter.extract(inputs['det']))
        if self.variant == 'detector_only':
            losses, results = {}, None
            if training or outputs:
                losses, results = self._det_pass(
                    feats, samples, training, not training, rescale)
            return PerceptionState(feats, feats, results, None, None, None,
                                   losses)
        return self._perceive_joint(inputs, samples, feats, training,
                                    outputs, rescale)

    def _perceive_joint(self, inputs: dict, samples: Sequence,
                        feats: Optional[Tuple[Tensor, ...]], training: bool,
                        outputs: bool, rescale: bool) -> PerceptionState:
        n = len(samples)
        need_dets = self.use_box_tokens or self.use_perception_prompt
        fusion_boxes = self.use_box_tokens and \
            'fusion' in self.perception_encoder.targets
        with timed_part(self, 'vision_encoder', n):
            vis = self.vision_encoder(inputs['enc'])
        losses, results, detections, box_out = {}, None, None, {}
        head_done = fusion_tokens = fusion_mask = None
        if fusion_boxes:
            losses, results, detections, head_done = self._detections_first(
                feats, samples, training, rescale)
            box_out = self._box_tokens(detections, samples)
            fusion_tokens, fusion_mask = box_out['fusion']
        fusion_inputs = dict(
            visual_tokens=vis.tokens,
            num_prefix_tokens=vis.num_prefix,
            grid=vis.grid,
            perception_tokens=fusion_tokens,
            perception_mask=fusion_mask,
            **self._fusion_feats(inputs, feats, samples))
        with timed_part(self, 'fusion', n):
            queries = self.fusion(**fusion_inputs)
        feats_fb = feats
        if self.use_feedback:
            with timed_part(self, 'feedback', n):
                feats_fb = self.feedback(feats, queries)
        if feats is not None and not head_done and (
                training or outputs or need_dets):
            want = (need_dets and detections is None) or not training
            losses, results = self._det_pass(feats_fb, samples, training,
                                             want, rescale)
            if need_dets and detections is None:
                detections = self._detections(results, samples, training,
                                              rescale or training)
        llm_tokens = None
        if self.use_box_tokens:
            if not box_out:
                box_out = self._box_tokens(detections, samples)
            if 'llm' in box_out:
                llm_tokens = self.perception_encoder.split(*box_out['llm'])
        return PerceptionState(
            feats, feats_fb, results, detections, queries, llm_tokens,
            losses, fusion_inputs if self.instruction_tokenizer else None,
            vis)

    def _detections_first(self, feats, samples, training, rescale):
        """Detections before the fusion (box tokens into the fusion).

        With feedback, a no-grad pre-pass over the features before feedback
        (the head's single pass comes later); without, the single pass
        itself goes first (nothing changes the features).

        Returns:
            tuple: losses, results, detections, whether the head's pass
            is done.
        """
        if self.use_feedback:
            pre = self._detect(feats, samples)
            return {}, None, self._detections(pre, samples, training,
                                              True), False
        losses, results = self._det_pass(feats, samples, training, True,
                                         rescale)
        return losses, results, self._detections(
            results, samples, training, rescale or training), True

    def _fusion_feats(self, inputs: dict, feats, samples) -> dict:
        """The detector features' arguments of the fusion (Eq. 1)."""
        if not self.use_det_feats_in_fusion:
            return {}
        if self.detach_perception:
            feats = tuple(f.detach() for f in feats)
        return dict(
            perception_feats=feats,
            valid_hw=[tuple(s.metainfo['img_shape'][:2]) for s in samples],
            pad_hw=tuple(inputs['det'].shape[-2:]))
