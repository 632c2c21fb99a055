"""COCO-format detection (COCO, CODA, CornerShapes, ...) with questions."""
import math
import os
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional, Sequence

from mmdet.datasets import CocoDataset
from mmengine.fileio import get_local_path

from mmmrmllm.registry import DATASETS

from .base import DataRecordError, DropCountMixin, empty_text_fields
from .formats import (
    FormatError,
    load_records,
    record_image_key,
    record_questions,
    text_fields,
)


def _is_number(value) -> bool:
    """A finite int or float (not a bool, a string or None)."""
    return isinstance(value, (int, float)) and not isinstance(
        value, bool) and math.isfinite(value)


@DATASETS.register_module()
class MRMLLMCocoDataset(DropCountMixin, CocoDataset):
    """mmdet's ``CocoDataset`` with questions, corner flags and counted drops.

    Every image is a sample with ``has_det_ann=True`` (its boxes were
    annotated; an image without boxes is a negative). Questions come from an
    optional ``question_file`` in the documented format
    (docs/data_format.md), matched to images by ``image_id`` or by file
    name.

    Differences from ``CocoDataset``, each on purpose:

    - invalid annotations (zero/negative area, no overlap with the image,
      under 1 px, malformed, unknown category id) raise
      :class:`DataRecordError` naming the file and annotation, or with
      ``skip_invalid=True`` are skipped and counted; mmdet skips them
      silently.
    - class indices follow the order of ``metainfo['classes']`` and each
      class name must exist in the file (mmdet silently follows the file's
      category order and ignores missing names).
    - ``filter_cfg.filter_empty_gt`` drops images without any valid box and
      without questions (mmdet keeps images whose boxes were all invalid);
      every filtered image is counted.
    - each instance carries ``corner`` (bool): from the per-object flag
      ``corner_key`` when the annotation has it, else whether its class is
      in ``corner_classes``.

    Args:
        question_file (str, optional): Questions in the documented format.
        corner_classes (Sequence[str], optional): Class names that count as
            corner cases (CODA style). Defaults to None.
        corner_key (str): Per-annotation flag naming a corner case.
            Defaults to ``'corner'``.
        skip_invalid (bool): See :class:`DropCountMixin`.
        check_images (bool): See :class:`DropCountMixin`.
        **kwargs: Arguments of mmdet's ``CocoDataset``.
    """

    def __init__(self,
                 *args,
                 question_file: Optional[str] = None,
                 corner_classes: Optional[Sequence[str]] = None,
                 corner_key: str = 'corner',
                 **kwargs) -> None:
        self.question_file = question_file
        self.corner_classes = set(corner_classes or ())
        self.corner_key = corner_key
        super().__init__(*args, **kwargs)

    def _join_prefix(self) -> None:
        if self.question_file and not osp.isabs(self.question_file) \
                and self.data_root:
            self.question_file = osp.join(self.data_root, self.question_file)
        super()._join_prefix()

    def load_data_list(self) -> List[dict]:
        """Load the COCO file (and questions) into samples.

        Raises:
            DataRecordError: For an empty file, a file without images, a
                class name missing from the file, or (unless
                ``skip_invalid``) an invalid annotation or question.
        """
        with get_local_path(
                self.ann_file, backend_args=self.backend_args) as local_path:
            if os.path.getsize(local_path) == 0:
                raise DataRecordError(
                    f'{self.ann_file}: the annotation file is empty')
            try:
                self.coco = self.COCOAPI(local_path)
            except ValueError as err:
                raise DataRecordError(
                    f'{self.ann_file}: not a COCO JSON file: {err}') from err
        if not self.coco.dataset.get('images'):
            raise DataRecordError(
                f'{self.ann_file}: the annotation file has no images')
        ids = Counter(img.get('id') for img in self.coco.dataset['images'])
        dup = sorted((i for i, n in ids.items() if n > 1), key=str)
        if dup:
            # pycocotools keeps the last record of an id: an image and its
            # boxes would vanish or go to another image
            raise DataRecordError(
                f'{self.ann_file}: image ids {dup[:10]} appear more than '
                'once in "images"; ids must be unique')

        classes = list(self.metainfo['classes'])
        name_to_cat: Dict[str, int] = {}
        for cat in self.coco.dataset.get('categories', []):
            if cat['name'] in name_to_cat:
                raise DataRecordError(f'{self.ann_file}: category name '
                                      f'{cat["name"]!r} appears twice')
            name_to_cat[cat['name']] = cat['id']
        missing = [c for c in classes if c not in name_to_cat]
        if missing:
            raise DataRecordError(
                f'{self.ann_file}: classes {missing} of metainfo are not '
                f'categories of the file ({sorted(name_to_cat)})')
        self.cat_ids = [name_to_cat[c] for c in classes]
        self.cat2label = {cat_id: i for i, cat_id in enumerate(self.cat_ids)}
        self.cat_img_map = {}

        questions = self._load_questions()
        data_list = []
        total_ann_ids = []
        for img_id in self.coco.get_img_ids():
            raw_img_info = self.coco.load_imgs([img_id])[0]
            raw_img_info['img_id'] = img_id
            ann_ids = self.coco.get_ann_ids(img_ids=[img_id])
            total_ann_ids.extend(ann_ids)
            data_info = self.parse_data_info({
                'raw_ann_info': self.coco.load_anns(ann_ids),
                'raw_img_info': raw_img_info
            })
            qs = questions.pop(img_id, None)
            if qs is None:
                qs = questions.pop(raw_img_info['file_name'], [])
            data_info.update(text_fields(qs) if qs else empty_text_fields())
            data_info['has_det_ann'] = True
            if self._check_image_file(data_info):
                data_list.append(data_info)
        if len(set(total_ann_ids)) != len(total_ann_ids):
            raise DataRecordError(
                f'{self.ann_file}: annotation ids are not unique')
        for key in questions:
            self.invalid_record('question_unknown_image', f'image {key!r}',
                          f'question file {self.question_file} has '
                          'questions for an image that is not in the '
                          'annotation file')
        del self.coco
        return data_list

    def _load_questions(self) -> dict:
        """Questions per image key (image id and file name)."""
        if not self.question_file:
            return {}
        try:
            _, records = load_records(self.question_file)
        except FormatError as err:
            raise DataRecordError(str(err)) from err
        explicit = Counter(
            q.get('id', q.get('question_id')) for raw in records
            if isinstance(raw, dict) for q in raw.get('questions', []) or []
            if isinstance(q, dict) and q.get('id', q.get('question_id'))
            is not None)
        dup = sorted((i for i, n in explicit.items() if n > 1), key=str)
        if dup:
            raise DataRecordError(
                f'{self.question_file}: question ids {dup[:10]} appear more '
                'than once; ids must be unique (predictions are matched to '
                'questions by id)')
        questions: dict = {}
        try:
            for raw in records:
                key = record_image_key(raw)
                if key not in self.coco.imgs and isinstance(key, str):
                    key = self._image_id_of_file(key, default=key)
                questions.setdefault(key, []).extend(
                    record_questions(raw, f'image {key!r}'))
        except FormatError as err:
            raise DataRecordError(f'{self.question_file}: {err}') from err
        return questions

    def _image_id_of_file(self, file_name: str, default):
        if not hasattr(self, '_file_to_id'):
            self._file_to_id = {
                info['file_name']: img_id
                for img_id, info in self.coco.imgs.items()
            }
        return self._file_to_id.get(file_name, default)

    def parse_data_info(self, raw_data_info: dict) -> dict:
        """Parse one image and its annotations, refusing invalid boxes."""
        img_info = raw_data_info['raw_img_info']
        for key in ('width', 'height'):
            val = img_info.get(key)
            if not _is_number(val) or val <= 0 or int(val) != val:
                raise DataRecordError(
                    f'{self.ann_file}: image {img_info.get("img_id")} '
                    f'({img_info.get("file_name")}): "{key}" must be a '
                    f'positive integer, got {val!r}')
        data_info = dict(
            img_path=osp.join(self.data_prefix['img'], img_info['file_name']),
            img_id=img_info['img_id'],
            seg_map_path=None,
            height=img_info['height'],
            width=img_info['width'])
        if self.return_classes:
            data_info['text'] = self.metainfo['classes']
            data_info['caption_prompt'] = self.caption_prompt
            data_info['custom_entities'] = True
        classes = self.metainfo['classes']
        instances = []
        for ann in raw_data_info['raw_ann_info']:
            record = (f'image {img_info["img_id"]} '
                      f'({img_info["file_name"]}), annotation {ann.get("id")}')
            if ann.get('ignore', False):
                self.count_drop('ann_ignore_flag')
                continue
            cat = ann.get('category_id')
            if isinstance(cat, bool) or cat not in self.coco.cats:
                self.invalid_record('unknown_category', record,
                              f'unknown category id {ann.get("category_id")}')
                continue
            if ann['category_id'] not in self.cat2label:
                self.count_drop('category_not_in_classes')
                continue
            bbox = ann.get('bbox')
            if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
                self.invalid_record('malformed_box', record,
                              f'bbox must be [x, y, w, h], got {bbox!r}')
                continue
            if not all(_is_number(v) for v in bbox) or (
                    'area' in ann and not _is_number(ann['area'])):
                self.invalid_record(
                    'malformed_box', record, 'bbox coordinates and area '
                    f'must be finite numbers, got bbox {bbox!r}, area '
                    f'{ann.get("area")!r}')
                continue
            x1, y1, w, h = bbox
            area = ann.get('area', w * h)
            if w <= 0 or h <= 0 or area <= 0:
                self.invalid_record('zero_area_box', record,
                              f'box {bbox} (area {area}) has no area')
                continue
            inter_w = max(0, min(x1 + w, img_info['width']) - max(x1, 0))
            inter_h = max(0, min(y1 + h, img_info['height']) - max(y1, 0))
            if inter_w * inter_h == 0:
                self.invalid_record(
                    'box_outside_image', record,
                    f'box {bbox} lies outside the '
                    f'{img_info["width"]}x{img_info["height"]} image')
                continue
            if w < 1 or h < 1:
                self.invalid_record('box_under_1px', record,
                              f'box {bbox} is under one pixel wide or high')
                continue
            label = self.cat2label[ann['category_id']]
            instance = dict(
                bbox=[x1, y1, x1 + w, y1 + h],
                bbox_label=label,
                ignore_flag=1 if ann.get('iscrowd', False) else 0,
                corner=bool(
                    ann.get(self.corner_key,
                            classes[label] in self.corner_classes)))
            if ann.get('segmentation', None):
                instance['mask'] = ann['segmentation']
            instances.append(instance)
        data_info['instances'] = instances
        return data_info

    def filter_data(self) -> List[dict]:
        """Apply ``filter_cfg`` and count every image it removes."""
        if self.test_mode or self.filter_cfg is None:
            return self.data_list
        filter_empty_gt = self.filter_cfg.get('filter_empty_gt', False)
        min_size = self.filter_cfg.get('min_size', 0)
        kept = []
        for data_info in self.data_list:
            if filter_empty_gt and not data_info['instances'] \
                    and not data_info['questions']:
                self.count_drop('filter_empty_gt')
                continue
            if min(data_info['width'], data_info['height']) < min_size:
                self.count_drop('filter_min_size')
                continue
            kept.append(data_info)
        return kept

    def get_cat_ids(self, idx: int) -> List[int]:
        return [
            instance['bbox_label']
            for instance in self.get_data_info(idx)['instances']
        ]


@DATASETS.register_module()
class CODADataset(MRMLLMCocoDataset):
    """CODA corner-case detection in COCO format.

    Which objects are corner cases comes from ``corner_classes`` (category
    names) or from a per-object flag (``corner_key``) when the annotation
    file has one; tools/dataset_converters/coda_to_coco.py writes such a
    flag. ``metainfo['classes']`` must name the categories to evaluate.
    """

