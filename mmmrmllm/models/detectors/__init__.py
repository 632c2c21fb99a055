from .adapters import (
                       BaseDetectorAdapter,
                       DETRAdapter,
                       SingleStageAdapter,
                       TwoStageAdapter,
                       build_detector_adapter,
                       ensure_loop_info,
)

__all__ = [
    'BaseDetectorAdapter', 'SingleStageAdapter', 'TwoStageAdapter',
    'DETRAdapter', 'build_detector_adapter', 'ensure_loop_info'
]
