"""Deprecated: InstructBLIP / BLIP-2 directories are handled by
:mod:`mmmrmllm.models.mllm_directory`; this package re-exports it for one
release."""
import warnings

from ..mllm_directory import (
                              load_instructblip,
                              load_mapped,
                              load_qformer,
                              read_state_dict,
                              save_instructblip,
                              summarize,
)

warnings.warn(
    'mmmrmllm.models.utils is deprecated; import from '
    'mmmrmllm.models.mllm_directory', DeprecationWarning, stacklevel=2)

__all__ = [
    'load_instructblip', 'load_mapped', 'load_qformer', 'read_state_dict',
    'save_instructblip', 'summarize'
]
