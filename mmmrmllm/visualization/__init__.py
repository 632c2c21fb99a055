from .answer_text import format_answers
from .local_visualizer import MRMLLMVisualizer

__all__ = ['MRMLLMVisualizer', 'format_answers']
