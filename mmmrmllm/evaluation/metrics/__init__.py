from .corner_recall import CornerRecall
from .det_metric import MRMLLMCocoMetric
from .pope_metric import POPEMetric
from .vqa_metric import GQAAccuracy, VQAAccuracy

__all__ = [
    'MRMLLMCocoMetric', 'CornerRecall', 'VQAAccuracy', 'GQAAccuracy',
    'POPEMetric'
]
