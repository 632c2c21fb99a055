"""Deprecated: the detector adapters are in
:mod:`mmmrmllm.models.det_adapters`."""
from ._moved import (
    BaseDetectorAdapter,
    DETRAdapter,
    GroundingDINOAdapter,
    SingleStageAdapter,
    TwoStageAdapter,
    adapters,
    build_detector_adapter,
    ensure_loop_info,
    register_detector_adapter,
)

__all__ = [
    'BaseDetectorAdapter', 'SingleStageAdapter', 'TwoStageAdapter',
    'DETRAdapter', 'GroundingDINOAdapter', 'adapters',
    'build_detector_adapter', 'ensure_loop_info', 'register_detector_adapter'
]
