"""Drop counting and error reporting shared by every mmmrmllm dataset.

mmdet's ``CocoDataset`` and MMEngine's ``BaseDataset`` lose data silently:
invalid boxes are skipped in ``parse_data_info``, ``filter_cfg`` removes
images, and a pipeline that returns ``None`` makes ``__getitem__`` fetch a
random other index. :class:`DropCountMixin` turns each of these into either
an error that names the annotation file and the record, or (where
``skip_invalid=True``) a skip that is counted and reported in the log.
"""
import logging
import os.path as osp
from collections import Counter
from typing import Any, Dict, List, Optional

from mmengine.logging import print_log

from mmmrmllm.structures import has_det_ann
from mmmrmllm.utils.errors import UserError


class DataRecordError(UserError):
    """A record of a dataset is invalid.

    The message names the annotation file and the record so the user can
    find and fix it.
    """


def describe_record(data_info: dict) -> str:
    """A short description of a record for error messages and logs."""
    keys = ('img_id', 'img_path', 'question_id', 'ann_id')
    parts = [f'{k}={data_info[k]!r}' for k in keys if k in data_info]
    return ', '.join(parts) if parts else repr(data_info)[:200]


class TextGeometryError(UserError):
    """A geometric transform made a sample's questions untrue.

    A configuration error, never skipped by ``skip_invalid``.
    """


class DropCountMixin:
    """Count, report or refuse every record a dataset would lose.

    Mix in before an MMEngine ``BaseDataset`` subclass, e.g.
    ``class MyDataset(DropCountMixin, CocoDataset)``.

    Two kinds of drops are counted in :attr:`drop_counts` (reason -> count):

    - *invalid* records (``invalid_record``): a corrupt box, an unknown
      category, a question for an unknown image, a missing or unreadable
      image. With ``skip_invalid=False`` (default) they raise
      :class:`DataRecordError`
      naming the file and the record; with ``skip_invalid=True`` they are
      skipped and counted.
    - *intended* drops (``count_drop``): what a config asked for, e.g.
      ``filter_empty_gt`` or categories left out of ``metainfo['classes']``.
      Always counted, never an error.

    A summary is logged after loading (``full_init``). Each time the
    pipeline returns ``None`` and a random other index is fetched instead
    (MMEngine's refetch), a warning with the running count is logged.

    Args:
        skip_invalid (bool): Skip and count invalid records instead of
            raising. Defaults to False.
        check_images (bool): Check at load time that every image file
            exists (one ``stat`` per image). Defaults to False, in which
            case a missing file fails when the sample is loaded.
    """

    def __init__(self,
                 *args,
                 skip_invalid: bool = False,
                 check_images: bool = False,
                 **kwargs) -> None:
        self.skip_invalid = skip_invalid
        self.check_images = check_images
        self.drop_counts: Counter = Counter()
        self.num_refetches = 0
        super().__init__(*args, **kwargs)

    @property
    def _source_name(self) -> str:
        return str(getattr(self, 'ann_file', '') or type(self).__name__)

    def invalid_record(self, reason: str, record: str, message: str) -> None:
        """Refuse an invalid record, or count it when skipping is allowed.

        Args:
            reason (str): Short key for :attr:`drop_counts`.
            record (str): Which record (image id, annotation id, ...).
            message (str): What is wrong with it.

        Raises:
            DataRecordError: If ``skip_invalid`` is False.
        """
        if not self.skip_invalid:
            raise DataRecordError(
                f'{self._source_name}: {record}: {message} (set '
                'skip_invalid=True to skip and count such records)')
        self.drop_counts[reason] += 1

    def count_drop(self, reason: str, num: int = 1) -> None:
        """Count an intended drop (never an error)."""
        if num:
            self.drop_counts[reason] += num

    def _check_image_file(self, data_info: dict) -> bool:
        """Whether the record's image exists (counted/refused if not)."""
        if not self.check_images:
            return True
        if osp.isfile(data_info['img_path']):
            return True
        self.invalid_record('missing_image', describe_record(data_info),
                      f'image file {data_info["img_path"]} does not exist')
        return False

    def full_init(self) -> None:
        """Load annotations, then log what was dropped and why."""
        if self._fully_initialized:
            return
        self.drop_counts = Counter()
        super().full_init()
        self.report_drops()

    def _serialize_data(self):
        if not self.data_list:
            raise DataRecordError(
                f'{self._source_name}: no samples left after loading '
                f'(dropped: {dict(self.drop_counts) or "none"})')
        return super()._serialize_data()

    def report_drops(self) -> Dict[str, int]:
        """Log the drop counts and return them.

        Returns:
            dict: Reason -> number of dropped records or annotations.
        """
        counts = dict(self.drop_counts)
        if counts:
            detail = ', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))
            print_log(
                f'{type(self).__name__} ({self._source_name}) dropped '
                f'{detail}; {len(self)} samples remain.',
                logger='current',
                level=logging.WARNING)
        return counts

    def prepare_data(self, idx: int) -> Any:
        """Run the pipeline; name the record when it fails.

        A failing transform (missing file, corrupt bytes, ...) raises
        :class:`DataRecordError` naming the annotation file and the record.
        With ``skip_invalid=True`` the failure is counted and ``None`` is
        returned, so the (counted) refetch picks another sample.
        """
        try:
            return super().prepare_data(idx)
        except TextGeometryError:
            raise
        except Exception as err:
            record = describe_record(self.get_data_info(idx))
            if not self.skip_invalid:
                raise DataRecordError(
                    f'{self._source_name}: {record}: pipeline failed: '
                    f'{type(err).__name__}: {err}') from err
            self.drop_counts[f'pipeline_error:{type(err).__name__}'] += 1
            print_log(
                f'{self._source_name}: {record}: pipeline failed '
                f'({type(err).__name__}: {err}); skipped.',
                logger='current',
                level=logging.WARNING)
            return None

    def __getitem__(self, idx: int) -> dict:
        """Like ``BaseDataset.__getitem__``, but counts every refetch."""
        if not self._fully_initialized:
            self.full_init()
        if self.test_mode:
            data = self.prepare_data(idx)
            if data is None:
                raise DataRecordError(
                    f'{self._source_name}: '
                    f'{describe_record(self.get_data_info(idx))}: the test '
                    'pipeline returned None')
            return data
        for _ in range(self.max_refetch + 1):
            data = self.prepare_data(idx)
            if data is not None:
                return data
            self.num_refetches += 1
            self.drop_counts['refetch'] += 1
            print_log(
                f'{self._source_name}: the pipeline returned None for '
                f'{describe_record(self.get_data_info(idx))}; a random other '
                f'sample is used instead ({self.num_refetches} refetches so '
                'far in this process).',
                logger='current',
                level=logging.WARNING)
            idx = self._rand_another()
        raise DataRecordError(
            f'{self._source_name}: no valid sample after {self.max_refetch} '
            'refetches; check the image paths and the pipeline')


def chunk_questions(data_info: dict,
                    max_questions: Optional[int]) -> List[dict]:
    """Split a VQA-only sample into samples of at most ``max_questions``.

    Only samples without box annotations are split: duplicating an annotated
    image would count its boxes twice in detection metrics.
    """
    num = len(data_info['questions'])
    if (not max_questions or num <= max_questions
            or has_det_ann(data_info)):
        return [data_info]
    chunks = []
    for start in range(0, num, max_questions):
        stop = start + max_questions
        chunk = dict(data_info)
        for key in ('questions', 'gt_answers', 'question_types',
                    'question_ids'):
            chunk[key] = data_info[key][start:stop]
        chunks.append(chunk)
    return chunks


def empty_text_fields() -> dict:
    """The text fields of a sample without questions."""
    return dict(questions=[], gt_answers=[], question_types=[],
                question_ids=[])
