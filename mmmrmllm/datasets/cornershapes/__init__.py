from .dataset import CornerShapesDataset
from .generator import (
                        CLASSES,
                        DEFAULT_SIZES,
                        QUESTION_TYPES,
                        SPLITS,
                        generate_cornershapes,
                        generate_image,
)
from .stream_dataset import CornerShapesImageTextStream, caption
from .text import TEXT_PROMPT, CornerShapesText, sample_scene
from .text_dataset import CornerShapesTextDataset

__all__ = [
    'CornerShapesDataset', 'CornerShapesImageTextStream', 'caption',
    'CornerShapesText', 'CornerShapesTextDataset',
    'TEXT_PROMPT', 'sample_scene', 'generate_cornershapes', 'generate_image',
    'CLASSES', 'DEFAULT_SIZES', 'QUESTION_TYPES', 'SPLITS'
]
