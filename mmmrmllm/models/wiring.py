"""Building helpers of the joint model.

What :class:`MRMLLM` needs before it can build its parts: the variant's
checks, the two-view preprocessor's config, what it must know about an
arbitrary mmdet detector to size the fusion and the feedback (the neck's
per-level widths, from the config, else from one blank-image forward), an
instance-segmentation detector's config without its mask branch, and the
detector checkpoint.
"""
import copy
from typing import List, Optional, Sequence

import torch
from mmengine.config import ConfigDict
from mmengine.logging import MMLogger
from torch import nn

from mmmrmllm.registry import MODELS
from mmmrmllm.structures import (
    answers_of,
    has_det_ann,
    questions_of,
    sample_name,
    sample_problem,
)

from .data_preprocessors import MRMLLMDataPreprocessor
from .perception import PerceptionFeedback
from .perception.gt_perception import GTPerceptionSchedule

VARIANTS = ('joint', 'detector_only', 'mllm_only')


def detector_config(detector: dict, drop_mask: bool = False) -> ConfigDict:
    """A private copy of a detector config, checked, as a ``ConfigDict``
    (mmdet reads ``train_cfg`` / ``test_cfg`` by attribute).

    Raises:
        TypeError: If it is not a config dict with a ``type``.
    """
    if not isinstance(detector, dict) or 'type' not in detector:
        raise TypeError('detector must be an mmdet model config dict '
                        f'with a type, got {detector!r}')
    cfg = ConfigDict(copy.deepcopy(dict(detector)))
    if drop_mask:
        drop_mask_branch(cfg)
    return cfg


def build_detector(cfg: dict) -> nn.Module:
    """``MODELS.build`` with an error that names the detector type."""
    try:
        return MODELS.build(cfg)
    except Exception as e:
        raise ValueError(
            f'could not build the detector {cfg.get("type")!r} from its '
            f'config: {type(e).__name__}: {e}') from e


def neck_channels(detector_cfg: dict) -> Optional[List[int]]:
    """Per-level widths of the detector neck, from its config (None when
    the config does not say: no single ``out_channels`` and ``num_outs``).
    """
    neck = detector_cfg.get('neck')
    if isinstance(neck, (list, tuple)):
        neck = neck[-1] if neck else None
    if not isinstance(neck, dict):
        return None
    out = neck.get('out_channels')
    if isinstance(out, (list, tuple)) and all(
            isinstance(c, int) for c in out):
        return list(out)
    num = neck.get('num_outs')
    if isinstance(out, int) and isinstance(num, int):
        return [out] * num
    return None


def drop_mask_branch(det_cfg: dict) -> None:
    """Remove the mask branch of an instance-segmentation detector config
    in place (``roi_head.mask_head`` / ``mask_roi_extractor`` and the
    semantic branch of HTC), logging what was dropped."""
    roi = det_cfg.get('roi_head')
    dropped = []
    if isinstance(roi, dict):
        for key in ('mask_head', 'mask_roi_extractor', 'semantic_head',
                    'semantic_roi_extractor'):
            if roi.pop(key, None) is not None:
                dropped.append(f'roi_head.{key}')
        if 'mask_info_flow' in roi:
            roi['mask_info_flow'] = False
    MMLogger.get_current_instance().info(
        f'drop_mask_branch: {det_cfg.get("type")} built without '
        f'{", ".join(dropped) or "a mask branch (it has none)"}; it trains '
        'and predicts boxes only')


@torch.no_grad()
def probe_neck_channels(detector: nn.Module) -> List[int]:
    """Per-level widths of a built detector's ``extract_feat`` output, by
    one eval-mode forward of a blank image (on the meta device when the
    detector was built there).

    Raises:
        ValueError: If the forward fails, naming the keys to set instead.
    """
    param = next(detector.parameters(), None)
    device = param.device if param is not None else 'cpu'
    was_training = detector.training
    detector.train(False)
    errors = []
    try:
        for size in (256, 512):
            try:
                feats = detector.extract_feat(
                    torch.zeros(1, 3, size, size, device=device))
                return [int(f.shape[1]) for f in feats]
            except Exception as err:  # too small an input, ...
                errors.append(f'{size}px: {type(err).__name__}: {err}')
    finally:
        detector.train(was_training)
    raise ValueError(
        'cannot read the detector neck widths (a blank-image forward of '
        f'extract_feat failed: {"; ".join(errors)[:300]}); set '
        'fusion.perception_dims and feedback.in_channels')


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


def load_detector_checkpoint(detector: nn.Module, path: str) -> None:
    """Load an mmdet checkpoint (or a joint model's, ``detector.`` keys)
    into the detector, logging loaded / missing / unexpected keys."""
    from mmengine.runner.checkpoint import _load_checkpoint
    ckpt = _load_checkpoint(path, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    state = {
        k[len('detector.'):] if k.startswith('detector.') else k: v
        for k, v in state.items()
    }
    res = detector.load_state_dict(state, strict=False)
    MMLogger.get_current_instance().info(
        f'detector checkpoint {path}: '
        f'{len(state) - len(res.unexpected_keys)} keys loaded, missing '
        f'{list(res.missing_keys)}, unexpected '
        f'{list(res.unexpected_keys)}')


def scaled_losses(losses: dict, prefix: str, weight: float) -> dict:
    """``losses`` with every ``*loss*`` entry times ``weight`` and the
    keys prefixed (``det.loss_cls``, ...)."""
    out = {}
    for key, val in losses.items():
        if 'loss' in key:
            val = [v * weight for v in val] if isinstance(
                val, (list, tuple)) else val * weight
        out[f'{prefix}.{key}'] = val
    return out


def fusion_config(fusion: dict, vision_dims: int, use_det_feats: bool,
                  neck_ch) -> dict:
    """The fusion's config with the widths filled in."""
    fusion = dict(fusion)
    fusion.setdefault('type', 'SharedQueryFusion')
    fusion.setdefault('vision_dims', vision_dims)
    if use_det_feats:
        if fusion.get('perception_dims') is None:
            fusion['perception_dims'] = need_channels(
                neck_ch, 'fusion', 'perception_dims')
    else:
        fusion['perception_dims'] = None
    return fusion


def feedback_config(feedback: Optional[dict], neck_ch,
                    levels: Optional[List[int]], query_dims: int) -> dict:
    """The feedback's config with the widths and levels filled in."""
    fb = dict(feedback or {})
    fb.setdefault('type', PerceptionFeedback)
    if fb.get('in_channels') is None:
        fb['in_channels'] = need_channels(neck_ch, 'feedback', 'in_channels')
        if levels and fb.get('num_levels') is None:
            fb['num_levels'] = len(levels)
    fb.setdefault('query_dims', query_dims)
    return fb


def check_samples(samples: Sequence, detector: Optional[nn.Module]) -> None:
    """Refuse a training batch the model cannot use, naming the sample:
    one without boxes and questions, with answer lists that do not match
    its questions, or with boxes but no masks for a mask branch."""
    with_mask = detector is not None and getattr(detector, 'with_mask',
                                                 False)
    for i, s in enumerate(samples):
        if with_mask and has_det_ann(s) and 'masks' not in s.get(
                'gt_instances', {}):
            raise ValueError(
                f'sample {sample_name(s, i)} has boxes but no masks, and the '
                f'detector {type(detector).__name__} has a mask branch: '
                'load masks (LoadAnnotations(with_mask=True)) or set '
                'model.drop_mask_branch=True to train on boxes only')
        problem = sample_problem(has_det_ann(s), questions_of(s),
                                 answers_of(s))
        if problem:
            raise ValueError(f'sample {sample_name(s, i)} {problem}')


def neck_widths(detector: Optional[nn.Module], det_cfg: Optional[dict],
                fusion: Optional[dict], feedback: Optional[dict],
                use_det_feats: bool, use_feedback: bool):
    """The neck's per-level widths where the fusion or the feedback needs
    them and their configs do not say.

    Returns:
        tuple: The widths (list, or None when not needed) and what the
        fusion / feedback configs get: one int for one width (one
        projection), else the list.
    """
    levels = None
    if detector is not None and (use_det_feats or use_feedback):
        missing = (use_det_feats and (fusion or {}).get('perception_dims')
                   is None) or (use_feedback and (feedback or {}).get(
                       'in_channels') is None)
        if missing:
            # from the neck config, else from one blank-image forward
            levels = neck_channels(det_cfg) or probe_neck_channels(detector)
    if levels and len(set(levels)) == 1:
        return levels, levels[0]
    return levels, levels
