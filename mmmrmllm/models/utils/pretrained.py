"""Deprecated: moved to :mod:`mmmrmllm.models.mllm_directory`
(``weights`` and ``export``)."""
import warnings

from ..mllm_directory.export import instructblip_state, save_instructblip
from ..mllm_directory.weights import (
                                      load_instructblip,
                                      load_mapped,
                                      load_qformer,
                                      read_state_dict,
                                      summarize,
)

warnings.warn(
    'mmmrmllm.models.utils.pretrained is deprecated; import from '
    'mmmrmllm.models.mllm_directory', DeprecationWarning, stacklevel=2)

__all__ = [
    'read_state_dict', 'load_mapped', 'load_qformer', 'load_instructblip',
    'summarize', 'instructblip_state', 'save_instructblip'
]
