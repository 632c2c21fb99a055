"""Deprecated: the box-token encoder is in :mod:`..box_tokens`, the
feedback in :mod:`..feedback`, the ground-truth schedule in
:mod:`..gt_schedule` and the prompt generator in :mod:`mmmrmllm.text`."""
from ._moved import (
    PerceptionEncoder,
    PerceptionFeedback,
    PerceptionObjects,
    PerceptionPromptGenerator,
    sine_encode,
)

__all__ = [
    'PerceptionEncoder', 'sine_encode', 'PerceptionFeedback',
    'PerceptionObjects', 'PerceptionPromptGenerator'
]
