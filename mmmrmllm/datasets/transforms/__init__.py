from .formatting import PackMRMLLMInputs
from .text_geometry import (
                            RandomFlipWithText,
                            SkipIfQuestions,
                            swap_words,
                            text_geometry_violation,
)
from .views import EncoderView

__all__ = [
    'PackMRMLLMInputs', 'EncoderView', 'RandomFlipWithText',
    'SkipIfQuestions', 'swap_words', 'text_geometry_violation'
]
