"""The parts' configs as the joint model fills them in: the variant's
checks, the two-view preprocessor, the fusion and the feedback (widths
and levels) and the ground-truth detection schedule.
"""
from typing import List, Optional

from mmmrmllm.utils.deprecation import warn_renamed

from .data_preprocessors import MRMLLMDataPreprocessor
from .feedback import PerceptionFeedback
from .gt_schedule import GTPerceptionSchedule

VARIANTS = ('joint', 'detector_only', 'mllm_only')


def need_channels(value, part: str, key: str):
    """``value``, or an error naming the config key to set."""
    if value is None:
        raise ValueError(
            'cannot read the detector neck channels from its config; '
            f'set {part}.{key}')
    return value


def check_variant(variant: str, detector, vision_encoder, fusion, llm,
                  detection_source: str, pretrained_mllm=None) -> None:
    """Refuse a variant without the parts it needs."""
    if variant == 'detector_only' and pretrained_mllm is not None:
        raise ValueError('pretrained_mllm needs the MLLM parts; '
                         "variant='detector_only' has none")
    if variant not in VARIANTS:
        raise ValueError(
            f'variant must be one of {VARIANTS}, got {variant!r}')
    if detection_source not in ('pred', 'gt'):
        raise ValueError(f'unknown detection_source {detection_source!r}')
    if variant != 'mllm_only' and detector is None:
        raise ValueError(f'variant={variant!r} needs a detector config')
    if variant != 'detector_only':
        for key, val in (('vision_encoder', vision_encoder),
                         ('fusion', fusion), ('llm', llm)):
            if val is None:
                raise ValueError(f'variant={variant!r} needs {key}')


def gt_schedule(detection_source: str, gt_perception: Optional[dict],
                gt_noise: float) -> Optional[GTPerceptionSchedule]:
    """The ground-truth perception schedule of the training prompts
    (``detection_source='gt'``: always jittered ground truth)."""
    if detection_source == 'gt':
        if gt_perception is not None:
            raise ValueError("gt_perception is a schedule for "
                             "detection_source='pred'; 'gt' always "
                             'uses the ground truth')
        gt_perception = dict(
            prob_start=1.0, prob_end=1.0, decay_iters=0,
            corrupt=dict(drop=0.0, add=0.0, jitter=gt_noise))
    return GTPerceptionSchedule(**gt_perception) \
        if gt_perception is not None else None


def preprocessor_cfg(data_preprocessor: Optional[dict],
                     det_cfg: Optional[dict], variant: str) -> dict:
    """The two-view preprocessor's config; the detector view defaults to
    the detector config's own ``data_preprocessor`` (popped from it)."""
    det_pre = None
    if det_cfg is not None:
        det_pre = det_cfg.pop('data_preprocessor', None) or dict(
            type='mmdet.DetDataPreprocessor')
    pre_cfg = dict(data_preprocessor or dict(type=MRMLLMDataPreprocessor))
    pre_cfg.setdefault('det', det_pre)
    if variant == 'detector_only':
        pre_cfg['enc'] = None
    if variant == 'mllm_only':
        pre_cfg['det'] = None
    return pre_cfg


def fusion_config(fusion: dict, vision_dims: int, use_det_feats: bool,
                  neck_ch) -> dict:
    """The fusion's config with the widths filled in (the
    :class:`BaseFusion` contract: ``vision_dims``, ``det_feat_dims``)."""
    fusion = dict(fusion)
    if 'perception_dims' in fusion:
        warn_renamed('fusion.perception_dims', 'fusion.det_feat_dims')
        old = fusion.pop('perception_dims')
        if fusion.get('det_feat_dims') is None:
            fusion['det_feat_dims'] = old
    fusion.setdefault('type', 'SharedQueryFusion')
    fusion.setdefault('vision_dims', vision_dims)
    if use_det_feats:
        if fusion.get('det_feat_dims') is None:
            fusion['det_feat_dims'] = need_channels(
                neck_ch, 'fusion', 'det_feat_dims')
    else:
        fusion['det_feat_dims'] = None
    return fusion


def feedback_config(feedback: Optional[dict], neck_ch,
                    levels: Optional[List[int]], query_dims: int) -> dict:
    """The feedback's config with the widths and levels filled in (the
    :class:`BaseFeedback` contract: ``in_channels``, ``num_levels``,
    ``query_dims``)."""
    fb = dict(feedback or {})
    fb.setdefault('type', PerceptionFeedback)
    if fb.get('in_channels') is None:
        fb['in_channels'] = need_channels(neck_ch, 'feedback', 'in_channels')
        if levels and fb.get('num_levels') is None:
            fb['num_levels'] = len(levels)
    fb.setdefault('query_dims', query_dims)
    return fb
