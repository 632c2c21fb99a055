"""Deprecated: see :mod:`mmmrmllm.models.box_tokens.encoder`."""
from ._moved import PerceptionEncoder, sine_encode

__all__ = ['PerceptionEncoder', 'sine_encode']
