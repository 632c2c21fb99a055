"""The documented JSON format: image + questions (+ optional boxes)."""
import os.path as osp
from typing import List, Optional

from mmdet.datasets import BaseDetDataset

from mmmrmllm.registry import DATASETS

from .base import DataRecordError, DropCountMixin, chunk_questions
from .formats import (
    FormatError,
    group_by_image,
    load_records,
    record_questions,
    text_fields,
)


def _as_int_id(value) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


@DATASETS.register_module()
class MRMLLMJsonDataset(DropCountMixin, BaseDetDataset):
    """Images with questions and optional boxes, in the documented format.

    The format (docs/data_format.md) is a list of records or
    ``{"metainfo": {"classes": [...]}, "data_list": [...]}``; a LLaVA
    conversation file is a valid input as it is. Records that share an image
    become one sample. A record with an ``instances`` list (possibly empty)
    has ``has_det_ann=True``; without it the image was never box-annotated
    (``has_det_ann=False``) and is left out of detection losses and metrics.

    Args:
        max_questions_per_sample (int, optional): Split VQA-only samples
            with more questions into several samples. Defaults to None.
        skip_invalid (bool): See :class:`DropCountMixin`.
        check_images (bool): See :class:`DropCountMixin`. Defaults to True
            here (question files are small next to detection sets).
        **kwargs: Arguments of MMEngine's ``BaseDataset``; ``data_prefix``
            takes ``img`` (or ``img_path``), the image folder.
    """

    def __init__(self,
                 *args,
                 max_questions_per_sample: Optional[int] = None,
                 check_images: bool = True,
                 **kwargs) -> None:
        self.max_questions_per_sample = max_questions_per_sample
        kwargs.setdefault('data_prefix', dict(img=''))
        super().__init__(*args, check_images=check_images, **kwargs)

    @property
    def _img_prefix(self) -> str:
        return self.data_prefix.get('img', self.data_prefix.get('img_path',
                                                                ''))

    def load_data_list(self) -> List[dict]:
        """Load and group the records.

        Raises:
            DataRecordError: For an empty file, or (unless ``skip_invalid``)
                an invalid record.
        """
        try:
            metainfo, records = load_records(self.ann_file)
        except FormatError as err:
            raise DataRecordError(str(err)) from err
        for key, value in metainfo.items():
            self._metainfo.setdefault(key, value)
        if isinstance(self._metainfo.get('classes'), list):
            self._metainfo['classes'] = tuple(self._metainfo['classes'])
        try:
            groups = group_by_image(records)
        except FormatError as err:
            raise DataRecordError(f'{self.ann_file}: {err}') from err

        used_ids = {
            _as_int_id(raws[0].get('image_id'))
            for raws in groups.values()
        }
        next_id = max([i for i in used_ids if i is not None] + [0]) + 1
        data_list = []
        for key, raws in groups.items():
            img_id = _as_int_id(raws[0].get('image_id'))
            if img_id is None:
                img_id, next_id = next_id, next_id + 1
            data_info = self.parse_data_info(
                dict(key=key, raws=raws, img_id=img_id))
            if data_info is None or not self._check_image_file(data_info):
                continue
            data_list.extend(
                chunk_questions(data_info, self.max_questions_per_sample))
        return data_list

    def parse_data_info(self, raw_data_info: dict) -> Optional[dict]:
        """One sample from the records of one image (None if skipped)."""
        raws = raw_data_info['raws']
        first = raws[0]
        record = f'image {raw_data_info["key"]!r}'
        image = next((r['image'] for r in raws if r.get('image')), None)
        if image is None:
            self._invalid('missing_image', record, 'record names no "image"')
            return None
        data_info = dict(
            img_path=osp.join(self._img_prefix, image),
            img_id=raw_data_info['img_id'],
            seg_map_path=None)
        for key in ('width', 'height'):
            if first.get(key) is not None:
                data_info[key] = first[key]

        questions = []
        try:
            for raw in raws:
                questions.extend(record_questions(raw, record))
        except FormatError as err:
            self._invalid('malformed_question', record, str(err))
            return None
        data_info.update(text_fields(questions))

        has_det_ann = any('instances' in r for r in raws)
        if 'has_det_ann' in first:
            has_det_ann = bool(first['has_det_ann'])
        instances = []
        if has_det_ann:
            for raw in raws:
                for k, inst in enumerate(raw.get('instances', [])):
                    parsed = self._parse_instance(
                        inst, data_info, f'{record}, instance {k}')
                    if parsed is not None:
                        instances.append(parsed)
        data_info['instances'] = instances
        data_info['has_det_ann'] = has_det_ann
        if not has_det_ann and not questions:
            self._invalid('empty_sample', record,
                          'sample has neither box annotations nor questions')
            return None
        return data_info

    def _parse_instance(self, inst: dict, data_info: dict,
                        record: str) -> Optional[dict]:
        classes = list(self.metainfo.get('classes', ()))
        label = inst.get('label', inst.get('bbox_label'))
        if isinstance(label, str):
            if label not in classes:
                self._invalid('unknown_category', record,
                              f'label {label!r} is not in classes {classes}')
                return None
            label = classes.index(label)
        elif not isinstance(label, int) or not 0 <= label < len(classes):
            self._invalid('unknown_category', record,
                          f'label {label!r} is not a class of {classes}')
            return None
        bbox = inst.get('bbox')
        if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
            self._invalid('malformed_box', record,
                          f'bbox must be [x1, y1, x2, y2], got {bbox!r}')
            return None
        x1, y1, x2, y2 = bbox
        if x2 - x1 <= 0 or y2 - y1 <= 0:
            self._invalid('zero_area_box', record,
                          f'box {bbox} (x1, y1, x2, y2) has no area')
            return None
        width, height = data_info.get('width'), data_info.get('height')
        if width is not None and height is not None and (
                min(x2, width) <= max(x1, 0)
                or min(y2, height) <= max(y1, 0)):
            self._invalid('box_outside_image', record,
                          f'box {bbox} lies outside the {width}x{height} '
                          'image')
            return None
        return dict(
            bbox=[float(v) for v in bbox],
            bbox_label=label,
            ignore_flag=int(bool(inst.get('ignore', False))),
            corner=bool(inst.get('corner', False)))

    def filter_data(self) -> List[dict]:
        """No filtering: every kept record has boxes or questions."""
        return self.data_list
