from .adapters import (
                       BaseDetectorAdapter,
                       DETRAdapter,
                       GroundingDINOAdapter,
                       SingleStageAdapter,
                       TwoStageAdapter,
                       build_detector_adapter,
                       ensure_loop_info,
)

__all__ = [
    'BaseDetectorAdapter', 'SingleStageAdapter', 'TwoStageAdapter',
    'DETRAdapter', 'GroundingDINOAdapter', 'build_detector_adapter',
    'ensure_loop_info'
]
