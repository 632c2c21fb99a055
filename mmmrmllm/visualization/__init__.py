from .local_visualizer import MRMLLMVisualizer

__all__ = ['MRMLLMVisualizer']
