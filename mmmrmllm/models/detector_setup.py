"""What the joint model needs to know about an arbitrary mmdet detector.

Its config (checked, without its mask branch where asked), building it,
the neck's per-level widths that size the fusion and the feedback (from
the config, else from one blank-image forward) and loading its checkpoint.
"""
import copy
from typing import List, Optional

import torch
from mmengine.config import ConfigDict
from mmengine.logging import MMLogger
from torch import nn

from mmmrmllm.registry import MODELS


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
        'fusion.det_feat_dims and feedback.in_channels')


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
        fusion = fusion or {}
        dims = fusion.get('det_feat_dims') or fusion.get('perception_dims')
        missing = (use_det_feats and dims is None) or (
            use_feedback and (feedback or {}).get('in_channels') is None)
        if missing:
            # from the neck config, else from one blank-image forward
            levels = neck_channels(det_cfg) or probe_neck_channels(detector)
    if levels and len(set(levels)) == 1:
        return levels, levels[0]
    return levels, levels


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
