"""Packing a sample into the inputs/data_samples layout of contracts.md."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import to_tensor
from mmdet.datasets.transforms import PackDetInputs

from mmmrmllm.registry import TRANSFORMS
from mmmrmllm.structures import (
    TEXT_FIELDS,
    MRMLLMDataSample,
    has_det_ann,
    sample_problem,
)

from ..base import DataRecordError, TextGeometryError, describe_record
from .text_geometry import text_geometry_violation

TEXT_KEYS = TEXT_FIELDS


@TRANSFORMS.register_module()
class PackMRMLLMInputs(PackDetInputs):
    """Pack both image views, boxes and questions of one sample.

    Returns ``dict(inputs=dict(det=(3, H, W) uint8, enc=(3, h, w) uint8),
    data_samples=MRMLLMDataSample)``; ``enc`` only when :class:`EncoderView`
    ran. The data sample carries ``gt_instances`` (empty ``(0, 4)`` boxes
    when none were loaded), metainfo ``has_det_ann`` and the text fields
    ``questions``, ``gt_answers``, ``question_types``, ``question_ids``.
    ``instances`` (boxes in original-image pixels, with ``corner`` flags)
    is kept in the metainfo for metrics that build their ground truth from
    the samples, ``regions`` (grounded phrases of image-text data, boxes
    in original-image pixels) for the MLLM's region-text loss.

    Args:
        meta_keys (Sequence[str]): Keys copied into the metainfo.
        enc_key (str): Result key of the encoder view. Defaults to
            ``'enc_img'``.

    Raises:
        DataRecordError: For a sample with neither box annotations nor
            questions, or with unequal numbers of questions and answers.
        TextGeometryError: If the questions no longer match a flipped or
            cropped image.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('img_id', 'img_path',
                                             'ori_shape', 'img_shape',
                                             'scale_factor', 'flip',
                                             'flip_direction', 'has_det_ann',
                                             'instances', 'enc_shape',
                                             'enc_valid_shape', 'regions'),
                 enc_key: str = 'enc_img') -> None:
        super().__init__(meta_keys=meta_keys)
        self.enc_key = enc_key

    def transform(self, results: dict) -> dict:
        questions = list(results.get('questions') or [])
        annotated = has_det_ann(results)
        problem = sample_problem(annotated, questions, None)
        if problem:
            raise DataRecordError(
                f'{describe_record(results)}: sample {problem}')
        violation = text_geometry_violation(results)
        if violation:
            raise TextGeometryError(
                f'{describe_record(results)}: {violation}')
        text = {'questions': questions}
        for key in TEXT_KEYS[1:]:
            values = list(results.get(key) or [])
            if key == 'question_types' and not values:
                values = [''] * len(questions)
            if key == 'gt_answers' and not values:
                values = [[] for _ in questions]
            if key == 'question_ids' and not values:
                values = list(range(len(questions)))
            if len(values) != len(questions):
                raise DataRecordError(
                    f'{describe_record(results)}: {len(questions)} questions '
                    f'but {len(values)} {key}')
            text[key] = values

        packed = super().transform(results)
        data_sample = MRMLLMDataSample(
            metainfo=packed['data_samples'].metainfo)
        data_sample.set_data(dict(packed['data_samples'].items()))
        if 'bboxes' not in data_sample.gt_instances:
            data_sample.gt_instances.bboxes = torch.zeros((0, 4))
            data_sample.gt_instances.labels = torch.zeros((0, ),
                                                          dtype=torch.long)
        data_sample.set_metainfo(dict(has_det_ann=annotated))
        for key, values in text.items():
            data_sample.set_field(values, key)

        inputs = dict(det=packed['inputs'])
        if self.enc_key in results:
            enc = results[self.enc_key]
            if enc.ndim < 3:
                enc = enc[..., None]
            inputs['enc'] = to_tensor(
                np.ascontiguousarray(enc.transpose(2, 0, 1)))
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(meta_keys={self.meta_keys}, '
                f'enc_key={self.enc_key!r})')
