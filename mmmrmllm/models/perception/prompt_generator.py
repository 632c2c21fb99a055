"""Kept for the old import path: the prompt generator lives in
:mod:`mmmrmllm.text.perception_prompt` (the data side writes the text
corpus with it too)."""
from mmmrmllm.text.perception_prompt import (
    GRID_WORDS,
    PerceptionObjects,
    PerceptionPromptGenerator,
    plural,
)

__all__ = [
    'GRID_WORDS', 'PerceptionObjects', 'PerceptionPromptGenerator', 'plural'
]
