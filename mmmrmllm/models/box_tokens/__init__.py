"""Box tokens: detections embedded as tokens for the fusion and the LLM."""
from .encoder import BoxTokenEncoder, PerceptionEncoder, sine_encode

__all__ = ['BoxTokenEncoder', 'PerceptionEncoder', 'sine_encode']
