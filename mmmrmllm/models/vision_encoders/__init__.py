from .base import BaseVisionEncoder, VisualTokens
from .hf_vision_encoder import HFVisionEncoder
from .mm_vision_encoder import MMVisionEncoder

__all__ = [
    'BaseVisionEncoder', 'VisualTokens', 'HFVisionEncoder', 'MMVisionEncoder'
]
