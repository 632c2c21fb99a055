"""Deprecated: moved to :mod:`mmmrmllm.models.mllm_directory.card`."""
import warnings

from ..mllm_directory.card import (
                                   EXAMPLE_QUESTION,
                                   model_card,
                                   processor_text,
                                   qformer_reads,
)

warnings.warn(
    'mmmrmllm.models.utils.pretrained_card is deprecated; import from '
    'mmmrmllm.models.mllm_directory.card', DeprecationWarning, stacklevel=2)

__all__ = ['EXAMPLE_QUESTION', 'model_card', 'processor_text',
           'qformer_reads']
