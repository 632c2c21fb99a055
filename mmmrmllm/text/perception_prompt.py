"""Deprecated: see :mod:`mmmrmllm.text.detection_prompt`."""
from mmmrmllm.utils.deprecation import warn_renamed

from .detection_prompt import (
    GRID_WORDS,
    DetectionPromptGenerator,
    PerceptionObjects,
    PerceptionPromptGenerator,
    cell_name,
    grid_cells,
    plural,
    point_cell,
)

warn_renamed('mmmrmllm.text.perception_prompt',
             'mmmrmllm.text.detection_prompt')

__all__ = [
    'GRID_WORDS', 'DetectionPromptGenerator', 'PerceptionObjects',
    'PerceptionPromptGenerator', 'cell_name', 'grid_cells', 'plural',
    'point_cell'
]
