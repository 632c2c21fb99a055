"""The old home of the box-token encoder, the feedback and the
ground-truth schedule; importing it warns."""
from mmmrmllm.text.detection_prompt import (
    GRID_WORDS,
    PerceptionObjects,
    PerceptionPromptGenerator,
    plural,
)
from mmmrmllm.utils.deprecation import warn_renamed

from ..box_tokens import PerceptionEncoder, sine_encode
from ..feedback import PerceptionFeedback
from ..gt_schedule import GTPerceptionSchedule, corrupt_objects

warn_renamed(
    'mmmrmllm.models.perception', 'mmmrmllm.models.box_tokens '
    '(BoxTokenEncoder), mmmrmllm.models.feedback, '
    'mmmrmllm.models.gt_schedule and mmmrmllm.text (DetectionPromptGenerator)')

__all__ = [
    'GRID_WORDS', 'PerceptionObjects', 'PerceptionPromptGenerator', 'plural',
    'PerceptionEncoder', 'sine_encode', 'PerceptionFeedback',
    'GTPerceptionSchedule', 'corrupt_objects'
]
