"""Deprecated: InstructBLIP / BLIP-2 directories are handled by
:mod:`mmmrmllm.models.mllm_directory`; this package re-exports it for one
release."""
from ..mllm_directory import (
                              load_instructblip,
                              load_mapped,
                              load_qformer,
                              read_state_dict,
                              save_instructblip,
                              summarize,
)
from . import _deprecated  # noqa: F401 (warns)

__all__ = [
    'load_instructblip', 'load_mapped', 'load_qformer', 'read_state_dict',
    'save_instructblip', 'summarize'
]
