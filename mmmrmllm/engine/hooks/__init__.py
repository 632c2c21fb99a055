from .answer_logging_hook import AnswerLoggingHook, format_answers
from .random_state_hook import RandomStateHook
from .visualization_hook import MRMLLMVisualizationHook

__all__ = [
    'AnswerLoggingHook', 'MRMLLMVisualizationHook', 'RandomStateHook',
    'format_answers'
]
