from .functional import match_gts, normalize_answer, pope_answer, vqa_score
from .metrics import (
    CornerRecall,
    GQAAccuracy,
    MRMLLMCocoMetric,
    POPEMetric,
    VQAAccuracy,
)

__all__ = [
    'MRMLLMCocoMetric', 'CornerRecall', 'VQAAccuracy', 'GQAAccuracy',
    'POPEMetric', 'normalize_answer', 'vqa_score', 'match_gts', 'pope_answer'
]
