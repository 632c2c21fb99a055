"""Average recall of detections, split by subsets of ground-truth objects."""
import numpy as np


def box_iou(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """IoU of ``(N, 4)`` and ``(M, 4)`` xyxy boxes, ``(N, M)``."""
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    lt = np.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = np.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = area1[:, None] + area2[None, :] - inter
    return inter / np.maximum(union, 1e-9)


def match_gts(gt_bboxes: np.ndarray,
              gt_labels: np.ndarray,
              pred_bboxes: np.ndarray,
              pred_scores: np.ndarray,
              pred_labels: np.ndarray,
              iou_thrs: np.ndarray,
              max_dets: int = 100,
              class_aware: bool = True) -> np.ndarray:
    """Which ground-truth boxes are found, COCO-style greedy matching.

    Detections, best score first (at most ``max_dets``), each take the
    unmatched ground-truth box of highest IoU (of the same class when
    ``class_aware``) if that IoU reaches the threshold.

    Returns:
        np.ndarray: ``(T, G)`` bool, ground truth ``g`` found at threshold
        ``t``.
    """
    found = np.zeros((len(iou_thrs), len(gt_bboxes)), dtype=bool)
    if len(gt_bboxes) == 0 or len(pred_bboxes) == 0:
        return found
    order = np.argsort(-pred_scores, kind='stable')[:max_dets]
    ious = box_iou(pred_bboxes[order], gt_bboxes)
    if class_aware:
        ious = np.where(pred_labels[order][:, None] == gt_labels[None, :],
                        ious, -1.0)
    for t, thr in enumerate(iou_thrs):
        for row in ious:
            cand = np.where(found[t], -1.0, row)
            best = int(np.argmax(cand))
            if cand[best] >= thr:
                found[t, best] = True
    return found
