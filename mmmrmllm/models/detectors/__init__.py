from .adapters import (
                       BaseDetectorAdapter,
                       DETRAdapter,
                       SingleStageAdapter,
                       TwoStageAdapter,
                       build_detector_adapter,
)

__all__ = [
    'BaseDetectorAdapter', 'SingleStageAdapter', 'TwoStageAdapter',
    'DETRAdapter', 'build_detector_adapter'
]
