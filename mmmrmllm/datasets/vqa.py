"""VQA datasets of mmpretrain, regrouped so that one image is one sample.

mmpretrain's ``COCOVQA`` and ``GQA`` give one sample per question; here the
questions of an image are gathered into one sample (perception runs once per
image) with the text fields of contracts.md. These images were never
box-annotated: ``has_det_ann=False``.
"""
import os.path as osp
from typing import Dict, List, Optional

from mmpretrain.datasets import COCOVQA, GQA

from mmmrmllm.registry import DATASETS

from .base import DataRecordError, DropCountMixin, chunk_questions
from .formats import load_json


def _vqa_only_sample(img_path: str, img_id, questions: List[dict]) -> dict:
    return dict(
        img_path=img_path,
        img_id=img_id,
        has_det_ann=False,
        instances=[],
        questions=[q['question'] for q in questions],
        gt_answers=[q['answers'] for q in questions],
        question_types=[q['type'] for q in questions],
        question_ids=[q['id'] for q in questions])


@DATASETS.register_module()
class VQAv2Dataset(DropCountMixin, COCOVQA):
    """VQAv2 / COCO-VQA, one sample per image with all its questions.

    Uses mmpretrain's ``COCOVQA`` for paths and the image index (image ids
    read from COCO file names). Unlike ``COCOVQA`` it keeps all ten
    reference answers per question, as the official VQAv2 score needs them
    (``COCOVQA`` merges duplicates into weights, which loses the counts).

    Args:
        data_root (str): Root of ``data_prefix``, ``question_file`` and
            ``ann_file``.
        data_prefix (str): Image folder.
        question_file (str): ``v2_OpenEnded_mscoco_*_questions.json``.
        ann_file (str): ``v2_mscoco_*_annotations.json``; empty for the test
            split (no answers). Defaults to ''.
        question_type_key (str): Annotation field used as the question
            type: ``'answer_type'`` (yes/no, number, other) or
            ``'question_type'`` (e.g. "what color is"). Defaults to
            ``'answer_type'``.
        max_questions_per_sample (int, optional): See
            :func:`chunk_questions`. Defaults to None.
        **kwargs: Arguments of :class:`DropCountMixin` and ``COCOVQA``.
    """

    def __init__(self,
                 *args,
                 question_type_key: str = 'answer_type',
                 max_questions_per_sample: Optional[int] = None,
                 **kwargs) -> None:
        self.question_type_key = question_type_key
        self.max_questions_per_sample = max_questions_per_sample
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Group the questions of each image.

        Raises:
            DataRecordError: For an empty question file, a question without
                annotation, or (unless ``skip_invalid``) a question for an
                image that is not in the image folder.
        """
        content = load_json(self.question_file, 'question file')
        questions = content.get('questions') if isinstance(
            content, dict) else None
        if not questions:
            raise DataRecordError(f'{self.question_file}: no questions')
        anns: Dict[int, dict] = {}
        if self.ann_file:
            anns = {
                a['question_id']: a
                for a in load_json(self.ann_file)['annotations']
            }
        image_index = self._create_image_index()
        groups: Dict[int, List[dict]] = {}
        for q in questions:
            record = f'question {q["question_id"]} (image {q["image_id"]})'
            if q['image_id'] not in image_index:
                self.invalid_record(
                    'question_unknown_image', record,
                    'no image with this id in '
                    f'{self.data_prefix["img_path"]}')
                continue
            entry = dict(
                id=q['question_id'],
                question=q['question'],
                answers=[],
                type='')
            if self.ann_file:
                ann = anns.get(q['question_id'])
                if ann is None:
                    raise DataRecordError(
                        f'{self.ann_file}: {record} has no annotation')
                entry['answers'] = [a['answer'] for a in ann['answers']]
                entry['type'] = ann.get(self.question_type_key, '')
            groups.setdefault(q['image_id'], []).append(entry)
        data_list = []
        for image_id, entries in groups.items():
            data_list.extend(
                chunk_questions(
                    _vqa_only_sample(image_index[image_id], image_id,
                                     entries), self.max_questions_per_sample))
        return data_list


@DATASETS.register_module()
class GQADataset(DropCountMixin, GQA):
    """GQA, one sample per image with all its questions.

    Reads the LAVIS list format used by mmpretrain's ``GQA`` (``image``,
    ``question``, ``answer``, optional ``question_id``) and also the
    official dict format (``{question_id: {imageId, question, answer,
    types}}``).

    Args:
        question_type_key (str): Which entry of the official ``types`` dict
            is the question type (``'structural'``: verify, query, choose,
            logical, compare; or ``'semantic'``, ``'detailed'``). Defaults
            to ``'structural'``.
        max_questions_per_sample (int, optional): See
            :func:`chunk_questions`. Defaults to None.
        **kwargs: Arguments of :class:`DropCountMixin` and ``GQA``.
    """

    def __init__(self,
                 *args,
                 question_type_key: str = 'structural',
                 max_questions_per_sample: Optional[int] = None,
                 **kwargs) -> None:
        self.question_type_key = question_type_key
        self.max_questions_per_sample = max_questions_per_sample
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Group the questions of each image."""
        annotations = load_json(self.ann_file)
        if not annotations:
            raise DataRecordError(f'{self.ann_file}: no questions')
        if isinstance(annotations, dict):
            annotations = [
                dict(
                    image=f'{a["imageId"]}.jpg',
                    question_id=qid,
                    **{k: v
                       for k, v in a.items() if k != 'imageId'})
                for qid, a in annotations.items()
            ]
        groups: Dict[str, List[dict]] = {}
        for k, ann in enumerate(annotations):
            img_path = osp.join(self.data_prefix['img_path'], ann['image'])
            types = ann.get('types') or {}
            answer = ann.get('answer')
            groups.setdefault(img_path, []).append(
                dict(
                    id=ann.get('question_id', k),
                    question=ann['question'],
                    answers=[answer] if answer is not None else [],
                    type=types.get(self.question_type_key,
                                   ann.get(self.question_type_key, ''))))
        data_list = []
        for img_id, (img_path, entries) in enumerate(groups.items()):
            sample = _vqa_only_sample(img_path, img_id, entries)
            if self._check_image_file(sample):
                data_list.extend(
                    chunk_questions(sample, self.max_questions_per_sample))
        return data_list
