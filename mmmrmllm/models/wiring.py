"""Deprecated: the joint model's building helpers were split by purpose.

:mod:`.detector_setup` (the detector's config, building, neck widths and
checkpoint), :mod:`.part_configs` (the variant's checks and the parts'
configs), :mod:`.loss_scaling` and :mod:`.sample_checks`. Importing this
module warns.
"""
from mmmrmllm.utils.deprecation import warn_renamed

from .detector_setup import (
    build_detector,
    detector_config,
    drop_mask_branch,
    load_detector_checkpoint,
    neck_channels,
    neck_widths,
    probe_neck_channels,
)
from .loss_scaling import scaled_losses
from .part_configs import (
    VARIANTS,
    check_variant,
    feedback_config,
    fusion_config,
    gt_schedule,
    need_channels,
    preprocessor_cfg,
)
from .sample_checks import check_samples

warn_renamed(
    'mmmrmllm.models.wiring', 'mmmrmllm.models.detector_setup, '
    '.part_configs, .loss_scaling and .sample_checks')

__all__ = [
    'VARIANTS', 'build_detector', 'check_samples', 'check_variant',
    'detector_config', 'drop_mask_branch', 'feedback_config',
    'fusion_config', 'gt_schedule', 'load_detector_checkpoint',
    'neck_channels', 'neck_widths', 'need_channels', 'preprocessor_cfg',
    'probe_neck_channels', 'scaled_losses'
]
