from .adapters import (
                       BaseDetectorAdapter,
                       DETRAdapter,
                       GroundingDINOAdapter,
                       SingleStageAdapter,
                       TwoStageAdapter,
                       build_detector_adapter,
                       ensure_loop_info,
                       register_detector_adapter,
)

__all__ = [
    'BaseDetectorAdapter', 'SingleStageAdapter', 'TwoStageAdapter',
    'DETRAdapter', 'GroundingDINOAdapter', 'build_detector_adapter',
    'ensure_loop_info', 'register_detector_adapter'
]
