"""Imported by this package's ``__init__``: warns that the package moved."""
import warnings

warnings.warn(
    'mmmrmllm.models.utils is deprecated; import from '
    'mmmrmllm.models.mllm_directory', DeprecationWarning, stacklevel=3)
