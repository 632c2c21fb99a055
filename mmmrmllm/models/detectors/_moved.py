"""The old home of the detector adapters; importing it warns.

``mmmrmllm.models.detectors.adapters`` and its modules are the modules of
:mod:`mmmrmllm.models.det_adapters` under their old names.
"""
import sys

from mmmrmllm.utils.deprecation import warn_renamed

from .. import det_adapters
from ..det_adapters import (
    BaseDetectorAdapter,
    DETRAdapter,
    GroundingDINOAdapter,
    SingleStageAdapter,
    TwoStageAdapter,
    base,
    build_detector_adapter,
    detr,
    ensure_loop_info,
    grounding_dino,
    register_detector_adapter,
    single_stage,
    two_stage,
    utils,
)

warn_renamed('mmmrmllm.models.detectors', 'mmmrmllm.models.det_adapters')

OLD = 'mmmrmllm.models.detectors.adapters'
sys.modules[OLD] = adapters = det_adapters
for _module in (base, detr, grounding_dino, single_stage, two_stage, utils):
    sys.modules[f'{OLD}.{_module.__name__.rsplit(".", 1)[1]}'] = _module

__all__ = [
    'BaseDetectorAdapter', 'SingleStageAdapter', 'TwoStageAdapter',
    'DETRAdapter', 'GroundingDINOAdapter', 'adapters',
    'build_detector_adapter', 'ensure_loop_info', 'register_detector_adapter'
]
