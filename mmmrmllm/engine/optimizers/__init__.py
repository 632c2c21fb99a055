from .partwise_clip_optim_wrapper import (
    PartwiseClipAmpOptimWrapper,
    PartwiseClipMixin,
    PartwiseClipOptimWrapper,
    PartwiseClipOptimWrapperConstructor,
)

__all__ = [
    'PartwiseClipAmpOptimWrapper', 'PartwiseClipMixin',
    'PartwiseClipOptimWrapper', 'PartwiseClipOptimWrapperConstructor'
]
