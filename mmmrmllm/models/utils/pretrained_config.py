"""Deprecated: moved to :mod:`mmmrmllm.models.mllm_directory.config`."""
import warnings

from ..mllm_directory.config import fill_from_pretrained, read_mllm_config

warnings.warn(
    'mmmrmllm.models.utils.pretrained_config is deprecated; import from '
    'mmmrmllm.models.mllm_directory', DeprecationWarning, stacklevel=2)

__all__ = ['read_mllm_config', 'fill_from_pretrained']
