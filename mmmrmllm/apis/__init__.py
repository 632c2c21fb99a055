"""High-level inference API (no web or GUI dependency)."""
from .inferencer import (
                         ImageSession,
                         InputError,
                         MRMLLMInferencer,
                         infer_pipeline,
)

__all__ = ['ImageSession', 'InputError', 'MRMLLMInferencer', 'infer_pipeline']
