"""What one perception pass of :class:`MRMLLM` produces, and the stateless
helpers of its steps: the pass's :class:`PerceptionState`, head results
turned into the normalised :class:`Detections`, corrupted ground truth on
the ground-truth schedule, and the class names the detections are read
with. The steps themselves are methods of :class:`MRMLLM`.
"""
import warnings
from typing import List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import MessageHub
from mmengine.structures import InstanceData
from torch import Tensor

from mmmrmllm.structures import has_det_ann
from mmmrmllm.text import PerceptionObjects

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


def class_names_of(class_names: Optional[Sequence[str]], samples: Sequence,
                   dataset_meta: Optional[dict] = None) -> List[str]:
    """The detector's class names: ``class_names`` if set, else the first
    sample's ``metainfo['classes']``, else ``dataset_meta['classes']``."""
    if class_names:
        return class_names
    for s in samples:
        classes = s.metainfo.get('classes')
        if classes:
            return list(classes)
    meta = dataset_meta or {}
    if meta.get('classes'):
        return list(meta['classes'])
    raise ValueError('MRMLLM needs the class names for box tokens / the '
                     'perception prompt: set class_names or put '
                     "'classes' in the samples' metainfo")


# the methods of MRMLLM's perception half (the former mixin's, and the
# steps they call)
_MIXIN_METHODS = ('_classes', '_label_embeds', '_detect', '_det_pass',
                  '_detections', '_box_tokens', '_perceive',
                  '_detections_first', '_fusion_feats', 'extract_det_feats',
                  'fuse', 'feed_back')


def __getattr__(name: str):
    """``PerceptionPassMixin`` (deprecated): the perception half of the
    forward pass is now part of :class:`MRMLLM` itself."""
    if name != 'PerceptionPassMixin':
        raise AttributeError(f'module {__name__!r} has no attribute '
                             f'{name!r}')
    warnings.warn(
        'PerceptionPassMixin is deprecated and will be removed in the next '
        'release: the forward pass is in MRMLLM (mmmrmllm/models/mrmllm.py)',
        DeprecationWarning, stacklevel=2)
    from .mrmllm import MRMLLM
    return type('PerceptionPassMixin', (),
                dict({k: MRMLLM.__dict__[k] for k in _MIXIN_METHODS},
                     __module__=__name__))
