from .recall import box_iou, match_gts
from .vqa import normalize_answer, vqa_score

__all__ = ['normalize_answer', 'vqa_score', 'box_iou', 'match_gts']
