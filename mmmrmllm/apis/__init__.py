"""High-level inference API (no web or GUI dependency).

The analyses that used to live here (``knowledge_probe``,
``counterfactual``) are in :mod:`mmmrmllm.analysis`; their old names still
resolve, with a ``DeprecationWarning``, through ``__getattr__``.
"""
from ._moved import __getattr__  # noqa: F401 - the old analysis names
from .inferencer import (
                         BatchPrediction,
                         ImageSession,
                         MRMLLMInferencer,
                         format_detections,
)
from .inputs import InputError, check_questions, infer_pipeline

__all__ = [
    'BatchPrediction', 'ImageSession', 'InputError', 'MRMLLMInferencer',
    'check_questions', 'format_detections', 'infer_pipeline'
]
