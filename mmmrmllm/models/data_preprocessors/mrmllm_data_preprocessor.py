"""Data preprocessor for the two views of one image."""
from typing import Optional

from mmengine.model import BaseDataPreprocessor, ImgDataPreprocessor

from mmmrmllm.registry import MODELS


def boxes_to_tensor(sample):
    """Turn ``gt_instances`` / ``ignored_instances`` box objects into
    ``(N, 4)`` tensors in place (mmdet's ``samplelist_boxtype2tensor``)."""
    from mmdet.structures.bbox import BaseBoxes
    for key in ('gt_instances', 'ignored_instances', 'pred_instances'):
        inst = getattr(sample, key, None)
        if inst is not None and 'bboxes' in inst and isinstance(
                inst.bboxes, BaseBoxes):
            inst.bboxes = inst.bboxes.tensor
    return sample


@MODELS.register_module()
class MRMLLMDataPreprocessor(BaseDataPreprocessor):
    """Preprocess ``inputs=dict(det=[...], enc=[...])`` (docs/contracts.md).

    The detector view goes through the detector's own preprocessor (mmdet's
    ``DetDataPreprocessor`` sets ``batch_input_shape``/``pad_shape``, which
    DETR needs); the encoder view is stacked and normalised with the
    encoder's own mean/std.

    Args:
        det (dict, optional): Detector-view preprocessor config. None when
            the model has no detector (its ``det`` inputs are ignored).
        enc (dict, optional): Encoder-view ``ImgDataPreprocessor`` kwargs
            (``mean``, ``std``, ``bgr_to_rgb``). None when the model has no
            vision encoder. Defaults to CLIP's statistics.
    """

    CLIP_MEAN = (122.771, 116.746, 104.094)
    CLIP_STD = (68.501, 66.632, 70.323)

    def __init__(self,
                 det: Optional[dict] = None,
                 enc: Optional[dict] = 'clip') -> None:
        super().__init__()
        self.det = MODELS.build(det) if det is not None else None
        if enc == 'clip':
            enc = dict(mean=self.CLIP_MEAN, std=self.CLIP_STD,
                       bgr_to_rgb=True)
        self.enc = ImgDataPreprocessor(**enc) if enc is not None else None

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocess both views.

        Args:
            data (dict): ``inputs=dict(det=list[Tensor (3, H, W)],
                enc=list[Tensor (3, h, w)])`` and ``data_samples``.
            training (bool): Training mode (batch augments).

        Returns:
            dict: ``inputs=dict(det=(B, 3, Hp, Wp), enc=(B, 3, h, w))``
            (keys present as configured) and ``data_samples``.
        """
        inputs = data['inputs']
        samples = data.get('data_samples')
        if not isinstance(inputs, dict):
            raise TypeError('MRMLLMDataPreprocessor expects inputs=dict(det='
                            f'..., enc=...), got {type(inputs).__name__}')
        out = {}
        if self.det is not None:
            if 'det' not in inputs:
                raise KeyError('the model has a detector but the batch has '
                               'no detector view (inputs["det"])')
            res = self.det(
                dict(inputs=inputs['det'], data_samples=samples), training)
            out['det'], samples = res['inputs'], res['data_samples']
        if self.enc is not None:
            if 'enc' not in inputs:
                raise KeyError('the model has a vision encoder but the batch '
                               'has no encoder view (inputs["enc"])')
            out['enc'] = self.enc(dict(inputs=inputs['enc']),
                                  training)['inputs']
        elif samples is not None:
            # without a detector preprocessor nothing turns mmdet's box
            # objects into tensors; do what DetDataPreprocessor's
            # ``boxtype2tensor`` does, so samples look the same in every mode
            samples = [boxes_to_tensor(s) for s in samples]
        if samples is not None:
            samples = self.cast_data(samples)
        return dict(inputs=out, data_samples=samples)
