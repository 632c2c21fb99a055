from typing import Optional, Sequence

from mmdet.engine.hooks import DetVisualizationHook

from mmmrmllm.registry import HOOKS


@HOOKS.register_module()
class MRMLLMVisualizationHook(DetVisualizationHook):
    """mmdet's visualization hook with a cap on drawn test images.

    mmdet draws every test image; on a large test set that costs more than
    the evaluation. With the :class:`MRMLLMVisualizer` the drawings also
    carry the questions and answers.

    Args:
        max_test_images (int, optional): Draw at most this many test images
            (the first ones). None draws all. Defaults to None.
        **kwargs: Arguments of ``DetVisualizationHook``.
    """

    def __init__(self, max_test_images: Optional[int] = None, **kwargs):
        super().__init__(**kwargs)
        self.max_test_images = max_test_images

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence) -> None:
        if self.max_test_images is not None:
            left = self.max_test_images - self._test_index
            if left <= 0:
                return
            outputs = outputs[:left]
        super().after_test_iter(runner, batch_idx, data_batch, outputs)
