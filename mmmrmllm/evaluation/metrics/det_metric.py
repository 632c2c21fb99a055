"""COCO box metrics over the box-annotated samples of a mixed evaluation."""
from typing import Dict, Sequence

from mmdet.evaluation import CocoMetric

from mmmrmllm.registry import METRICS
from mmmrmllm.structures import has_det_ann

from .annotated import annotated_results


@METRICS.register_module()
class MRMLLMCocoMetric(CocoMetric):
    """mmdet's ``CocoMetric`` (bbox mAP, AR@100, ...) on annotated samples.

    Samples with ``has_det_ann=False`` (never box-annotated, e.g. VQA-only
    images) are skipped, so the metric works next to VQA metrics in one
    evaluator over mixed samples. Two differences from ``CocoMetric``:

    - with ``ann_file``, only the images that were evaluated count (mmdet
      scores every image of the file, so a subset or a mixed set would be
      counted as missed detections);
    - without ``ann_file``, the ground truth is rebuilt from the samples'
      ``instances`` at every evaluation (mmdet caches the first one).

    Args:
        **kwargs: Arguments of mmdet's ``CocoMetric``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._gt_from_file = self._coco_api is not None

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Keep the samples whose boxes were annotated.

        A sample without box annotations leaves a ``None``: MMEngine cuts
        and merges results across ranks assuming one result per sample.
        """
        for sample in data_samples:
            if has_det_ann(sample):
                super().process(data_batch, [sample])
            else:
                self.results.append(None)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """COCO metrics of the annotated samples ({} if there are none)."""
        results = annotated_results(self, results)
        if not results:
            return {}
        if self._gt_from_file:
            self.img_ids = sorted({gt['img_id'] for gt, _ in results})
        try:
            return super().compute_metrics(results)
        finally:
            if not self._gt_from_file:
                self._coco_api = None
                self.cat_ids = None
                self.img_ids = None
