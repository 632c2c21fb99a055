"""The documented JSON format: image + questions (+ optional boxes)."""
import math
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


def _is_number(value) -> bool:
    """A finite int or float (not a bool, a string or None)."""
    return isinstance(value, (int, float)) and not isinstance(
        value, bool) and math.isfinite(value)


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
        self._question_ids = set()
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
        record = f'image {raw_data_info["key"]!r}'
        image = self._image_of(raws, record)
        if image is None:
            return None
        data_info = dict(
            img_path=osp.join(self._img_prefix, image),
            img_id=raw_data_info['img_id'],
            seg_map_path=None)
        if not self._check_first_record(raws[0], record, data_info):
            return None
        questions = self._questions_of(raws, record, data_info)
        if questions is None:
            return None
        has_det_ann = any('instances' in r for r in raws)
        if 'has_det_ann' in raws[0]:
            has_det_ann = bool(raws[0]['has_det_ann'])
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
            self.invalid_record('empty_sample', record,
                          'sample has neither box annotations nor questions')
            return None
        return data_info

    def _image_of(self, raws: List[dict], record: str) -> Optional[str]:
        """The one image file that the records of an image id name, and
        its boxes given at most once (None, counted as invalid, if not)."""
        images = list(dict.fromkeys(r['image'] for r in raws
                                    if r.get('image') is not None))
        if not images:
            self.invalid_record('missing_image', record,
                                'record names no "image"')
            return None
        if len(images) > 1 or not isinstance(images[0], str):
            # records are merged per image id: they must name one image
            self.invalid_record(
                'duplicate_image_id', record,
                f'{len(raws)} records share this image id but name '
                f'different images {images[:3]}' if len(images) > 1 else
                f'"image" must be a file name, got {images[0]!r}')
            return None
        if sum('instances' in r for r in raws) > 1:
            self.invalid_record(
                'duplicate_image_id', record,
                f'{sum("instances" in r for r in raws)} records of this '
                'image each give "instances"; give its boxes once')
            return None
        return images[0]

    def _check_first_record(self, first: dict, record: str,
                            data_info: dict) -> bool:
        """Check the image fields of the first record (size,
        ``has_det_ann``, ``instances``) and copy its size to
        ``data_info``; False (counted as invalid) for a bad one."""
        for key in ('width', 'height'):
            value = first.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or \
                    value <= 0:
                self.invalid_record('bad_image_size', record,
                              f'{key} must be a positive integer, got '
                              f'{value!r}')
                return False
            data_info[key] = value
        for key, kind, what, got in (
                ('has_det_ann', bool, 'true or false', repr),
                ('instances', list, 'a list', lambda v: type(v).__name__)):
            if key in first and not isinstance(first[key], kind):
                self.invalid_record('malformed_record', record,
                              f'"{key}" must be {what}, got '
                              f'{got(first[key])}')
                return False
        return True

    def _questions_of(self, raws: List[dict], record: str,
                      data_info: dict) -> Optional[list]:
        """The image's questions, their text fields put in ``data_info``;
        None (counted as invalid) for a malformed one or a question id
        used before in the file."""
        questions = []
        try:
            for raw in raws:
                questions.extend(record_questions(raw, record))
        except FormatError as err:
            self.invalid_record('malformed_question', record, str(err))
            return None
        data_info.update(text_fields(questions))
        for qid in data_info['question_ids']:
            if qid in self._question_ids:
                self.invalid_record('duplicate_question_id', record,
                              f'question id {qid!r} is used twice in the '
                              'file')
                return None
        self._question_ids.update(data_info['question_ids'])
        return questions

    def _parse_instance(self, inst: dict, data_info: dict,
                        record: str) -> Optional[dict]:
        classes = list(self.metainfo.get('classes', ()))
        if not isinstance(inst, dict):
            self.invalid_record('malformed_box', record,
                          f'an instance must be an object, got {inst!r:.100}')
            return None
        label = inst.get('label', inst.get('bbox_label'))
        if isinstance(label, str):
            if label not in classes:
                self.invalid_record('unknown_category', record,
                              f'label {label!r} is not in classes {classes}')
                return None
            label = classes.index(label)
        elif isinstance(label, bool) or not isinstance(label, int) or \
                not 0 <= label < len(classes):
            self.invalid_record('unknown_category', record,
                          f'label {label!r} is not a class of {classes}')
            return None
        bbox = inst.get('bbox')
        if not isinstance(bbox, (list, tuple)) or len(bbox) != 4 or \
                not all(_is_number(v) for v in bbox):
            self.invalid_record('malformed_box', record,
                          'bbox must be [x1, y1, x2, y2] of finite numbers, '
                          f'got {bbox!r}')
            return None
        x1, y1, x2, y2 = bbox
        if x2 - x1 <= 0 or y2 - y1 <= 0:
            self.invalid_record('zero_area_box', record,
                          f'box {bbox} (x1, y1, x2, y2) has no area')
            return None
        width, height = data_info.get('width'), data_info.get('height')
        if width is not None and height is not None and (
                min(x2, width) <= max(x1, 0)
                or min(y2, height) <= max(y1, 0)):
            self.invalid_record('box_outside_image', record,
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
