from .answer_logging_hook import AnswerLoggingHook, format_answers

__all__ = ['AnswerLoggingHook', 'format_answers']
