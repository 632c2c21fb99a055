"""High-level inference API (no web or GUI dependency)."""
from .inferencer import (
                         ImageSession,
                         InputError,
                         MRMLLMInferencer,
                         infer_pipeline,
)
from .knowledge_probe import knowledge_probe

__all__ = [
    'ImageSession', 'InputError', 'MRMLLMInferencer', 'infer_pipeline',
    'knowledge_probe'
]
