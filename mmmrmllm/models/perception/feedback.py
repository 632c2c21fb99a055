"""Deprecated: see :mod:`mmmrmllm.models.feedback`."""
from ._moved import PerceptionFeedback

__all__ = ['PerceptionFeedback']
