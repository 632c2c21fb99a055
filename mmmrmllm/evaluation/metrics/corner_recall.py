"""CODA-style average recall split into corner / common / agnostic."""
from typing import Dict, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from mmmrmllm.registry import METRICS
from mmmrmllm.structures import has_det_ann

from ..functional import match_gts
from .annotated import annotated_results


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


@METRICS.register_module()
class CornerRecall(BaseMetric):
    """Average recall on corner-case and common objects (CODA style).

    Recall is averaged over IoU thresholds (0.50:0.05:0.95) with at most
    ``max_dets`` detections per image, and pooled over objects (each object
    weighs the same; COCO's AR averages over categories instead). Reported:

    - ``AR_corner``: class-aware recall of corner-case objects;
    - ``AR_common``: class-aware recall of the other objects;
    - ``AR_agnostic``: class-agnostic recall of corner-case objects (found
      at all, whatever the predicted class);
    - ``num_corner`` / ``num_common``: object counts.

    An AR over no objects is -1 (pycocotools' convention). Ground truth
    comes from the samples' ``instances`` (original-image boxes; kept by
    :class:`PackMRMLLMInputs`); an object is a corner case if its
    ``corner_key`` flag is set or its class is in ``corner_classes``.
    Samples with ``has_det_ann=False`` are skipped.

    Args:
        iou_thrs (Sequence[float], optional): IoU thresholds.
        max_dets (int): Detections per image. Defaults to 100.
        corner_key (str): Per-object flag. Defaults to ``'corner'``.
        corner_classes (Sequence[str], optional): Corner class names.
        collect_device (str): See MMEngine's ``BaseMetric``.
        prefix (str, optional): Defaults to ``'corner'``.
    """
    default_prefix: Optional[str] = 'corner'

    def __init__(self,
                 iou_thrs: Optional[Sequence[float]] = None,
                 max_dets: int = 100,
                 corner_key: str = 'corner',
                 corner_classes: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if iou_thrs is None:
            iou_thrs = np.linspace(0.5, 0.95, 10)
        self.iou_thrs = np.asarray(iou_thrs, dtype=np.float64)
        self.max_dets = max_dets
        self.corner_key = corner_key
        self.corner_classes = set(corner_classes or ())

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Keep ground truth and predictions of annotated samples."""
        classes = (self.dataset_meta or {}).get('classes', ())
        for sample in data_samples:
            if not has_det_ann(sample):
                # one result per sample, as MMEngine's collection assumes
                self.results.append(None)
                continue
            if 'instances' not in sample:
                raise KeyError(
                    f'{type(self).__name__} needs "instances" in the data '
                    'samples (keep it in the meta_keys of PackMRMLLMInputs)')
            gts = [i for i in sample['instances'] if not i.get('ignore_flag')]
            labels = np.array([i['bbox_label'] for i in gts], dtype=np.int64)
            corner = np.array([
                bool(i.get(self.corner_key, False)) or (
                    bool(classes) and classes[i['bbox_label']]
                    in self.corner_classes) for i in gts
            ],
                              dtype=bool)
            pred = sample['pred_instances']
            self.results.append(
                dict(
                    gt_bboxes=np.array([i['bbox'] for i in gts],
                                       dtype=np.float64).reshape(-1, 4),
                    gt_labels=labels,
                    gt_corner=corner,
                    pred_bboxes=_to_numpy(pred['bboxes']).reshape(-1, 4),
                    pred_scores=_to_numpy(pred['scores']),
                    pred_labels=_to_numpy(pred['labels'])))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Recall per subset, averaged over IoU thresholds."""
        results = annotated_results(self, results)
        if not results:
            return {}
        aware, agnostic, corner = [], [], []
        for r in results:
            args = (r['gt_bboxes'], r['gt_labels'], r['pred_bboxes'],
                    r['pred_scores'], r['pred_labels'], self.iou_thrs,
                    self.max_dets)
            aware.append(match_gts(*args, class_aware=True))
            agnostic.append(match_gts(*args, class_aware=False))
            corner.append(r['gt_corner'])
        aware = np.concatenate(aware, axis=1)
        agnostic = np.concatenate(agnostic, axis=1)
        corner = np.concatenate(corner)

        def _ar(found: np.ndarray, subset: np.ndarray) -> float:
            if not subset.any():
                return -1.0
            return float(found[:, subset].mean())

        return dict(
            AR_corner=_ar(aware, corner),
            AR_common=_ar(aware, ~corner),
            AR_agnostic=_ar(agnostic, corner),
            num_corner=int(corner.sum()),
            num_common=int((~corner).sum()))
