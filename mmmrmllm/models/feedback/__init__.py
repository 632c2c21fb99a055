"""Feedbacks: the shared queries flow back into the detector's neck."""
from .base import BaseFeedback
from .perception_feedback import PerceptionFeedback

__all__ = ['BaseFeedback', 'PerceptionFeedback']
