from .base import DataRecordError, DropCountMixin, TextGeometryError
from .coco import CODADataset, MRMLLMCocoDataset
from .cornershapes import (
    CornerShapesDataset,
    CornerShapesImageTextStream,
    CornerShapesTextDataset,
    generate_cornershapes,
)
from .json_dataset import MRMLLMJsonDataset
from .pope import build_pope_questions
from .samplers import MixedRatioSampler
from .transforms import (
    EncoderView,
    PackMRMLLMInputs,
    RandomFlipWithText,
    SkipIfQuestions,
)
from .vqa import GQADataset, VQAv2Dataset

__all__ = [
    'DataRecordError', 'TextGeometryError', 'DropCountMixin',
    'MRMLLMCocoDataset', 'CODADataset', 'CornerShapesDataset',
    'CornerShapesImageTextStream', 'CornerShapesTextDataset',
    'generate_cornershapes', 'MRMLLMJsonDataset', 'MixedRatioSampler',
    'EncoderView', 'PackMRMLLMInputs', 'RandomFlipWithText',
    'SkipIfQuestions', 'GQADataset', 'VQAv2Dataset', 'build_pope_questions'
]
