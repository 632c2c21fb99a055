from .pope import binary_scores, is_yes_or_no, pope_answer
from .recall import box_iou, match_gts
from .vqa import answer_has_type, normalize_answer, vqa_score

__all__ = [
    'answer_has_type', 'normalize_answer', 'vqa_score', 'box_iou',
    'match_gts', 'pope_answer', 'is_yes_or_no', 'binary_scores'
]
