from .dataset import CornerShapesDataset
from .generator import (
                        CLASSES,
                        DEFAULT_SIZES,
                        QUESTION_TYPES,
                        SPLITS,
                        generate_cornershapes,
                        generate_image,
)

__all__ = [
    'CornerShapesDataset', 'generate_cornershapes', 'generate_image',
    'CLASSES', 'DEFAULT_SIZES', 'QUESTION_TYPES', 'SPLITS'
]
