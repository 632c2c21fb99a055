"""Deprecated: see :mod:`mmmrmllm.text.detection_prompt`."""
from ._moved import (
    GRID_WORDS,
    PerceptionObjects,
    PerceptionPromptGenerator,
    plural,
)

__all__ = [
    'GRID_WORDS', 'PerceptionObjects', 'PerceptionPromptGenerator', 'plural'
]
