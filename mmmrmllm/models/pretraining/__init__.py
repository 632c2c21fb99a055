"""Losses used only to pre-train the MLLM (stage 1c); their heads are not
part of the exported InstructBLIP directory."""
from .region_text import (
                          RegionTextContrastive,
                          box_pool_weights,
                          grounded_regions,
                          region_batch,
)

__all__ = [
    'RegionTextContrastive', 'box_pool_weights', 'grounded_regions',
    'region_batch'
]
