from .functional import match_gts, normalize_answer, vqa_score
from .metrics import CornerRecall, GQAAccuracy, MRMLLMCocoMetric, VQAAccuracy

__all__ = [
    'MRMLLMCocoMetric', 'CornerRecall', 'VQAAccuracy', 'GQAAccuracy',
    'normalize_answer', 'vqa_score', 'match_gts'
]
