from .answer_logging_hook import AnswerLoggingHook, format_answers
from .class_check_hook import ClassCheckHook, check_classes
from .epoch_from_iter_hook import EpochFromIterHook
from .freeze_until_hook import FreezeUntilHook
from .hf_export_hook import HFExportHook
from .instructblip_export_hook import InstructBLIPExportHook
from .loss_weight_hook import LossWeightHook
from .random_state_hook import RandomStateHook
from .visualization_hook import MRMLLMVisualizationHook

__all__ = [
    'AnswerLoggingHook', 'ClassCheckHook', 'check_classes',
    'EpochFromIterHook', 'FreezeUntilHook', 'HFExportHook',
    'InstructBLIPExportHook', 'LossWeightHook',
    'MRMLLMVisualizationHook', 'RandomStateHook', 'format_answers'
]
