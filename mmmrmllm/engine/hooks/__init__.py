from .answer_logging_hook import AnswerLoggingHook, format_answers
from .random_state_hook import RandomStateHook

__all__ = ['AnswerLoggingHook', 'RandomStateHook', 'format_answers']
