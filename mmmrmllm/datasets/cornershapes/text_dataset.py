"""Text-only datasets for language pre-training (no images)."""
import json
import os.path as osp
from collections import defaultdict
from typing import Optional

import torch
from torch.utils.data import Dataset

from mmmrmllm.registry import DATASETS, MODELS
from mmmrmllm.structures import MRMLLMDataSample

from .generator import CLASSES
from .text import CornerShapesText


def _pack(index: int, item: dict) -> dict:
    sample = MRMLLMDataSample(metainfo=dict(img_id=index))
    sample.perception = item['perception']
    sample.questions = list(item['questions'])
    sample.gt_answers = [[a] for a in item['answers']]
    sample.question_types = list(item['question_types'])
    # no image: an empty tensor keeps MMEngine's collate and data
    # preprocessor generic
    return dict(inputs=torch.zeros(0), data_samples=sample)


@DATASETS.register_module()
class CornerShapesTextDataset(Dataset):
    """Perception prompts + questions + answers of CornerShapes scenes.

    Two sources:

    * generated (``ann_file`` None): ``num_samples`` scenes of
      :class:`CornerShapesText`, each a pure function of ``(seed, index)``
      - effectively unlimited data for pre-training;
    * a benchmark split (``ann_file`` + ``question_file``, COCO boxes and
      the documented question JSON): the split's ground-truth objects in
      the prompt and its real questions - the language stage's validation.

    Each item is ``dict(inputs=<empty tensor>, data_samples=MRMLLMDataSample)``
    with ``perception`` (str), ``questions``, ``gt_answers`` and
    ``question_types``.

    Args:
        prompt_generator (dict): :class:`DetectionPromptGenerator` config,
            the same as the joint model's.
        num_samples (int): Scenes in the generated source.
        seed (int): Seed of the generated source.
        classes (Sequence[str]): Shape classes.
        corrupt_prob (float): See :class:`CornerShapesText`.
        corrupt_cfg (dict, optional): See :class:`CornerShapesText`.
        lookup_first (int): See :class:`CornerShapesText` (a curriculum:
            with a sequential sampler, the first ``lookup_first /
            batch_size`` iterations).
        phrasing (str): See :class:`CornerShapesText` (the generated
            source; a split's questions are worded as in its file).
        data_root (str): Prefix of ``ann_file`` / ``question_file``.
        ann_file (str, optional): COCO annotations of a split.
        question_file (str, optional): Questions of the same split.
    """

    def __init__(self,
                 prompt_generator: dict,
                 num_samples: int = 1_000_000,
                 seed: int = 0,
                 classes=CLASSES,
                 corrupt_prob: float = 0.0,
                 corrupt_cfg: Optional[dict] = None,
                 lookup_first: int = 0,
                 phrasing: str = 'train',
                 data_root: str = '',
                 ann_file: Optional[str] = None,
                 question_file: Optional[str] = None) -> None:
        self.metainfo = dict(classes=tuple(classes))
        self.generator = CornerShapesText(
            MODELS.build(prompt_generator), classes, seed,
            corrupt_prob=corrupt_prob, corrupt_cfg=corrupt_cfg,
            lookup_first=lookup_first, phrasing=phrasing)
        self.items = None
        self.num_samples = num_samples
        if ann_file is not None:
            if question_file is None:
                raise ValueError('ann_file needs a question_file')
            self.items = self._load_split(
                osp.join(data_root, ann_file),
                osp.join(data_root, question_file))

    def _load_split(self, ann_file: str, question_file: str) -> list:
        for path in (ann_file, question_file):
            if not osp.isfile(path):
                raise FileNotFoundError(f'{path} not found')
        with open(ann_file) as f:
            coco = json.load(f)
        with open(question_file) as f:
            records = json.load(f)['data_list']
        cat_index = {}
        for c in coco['categories']:
            if c['name'] not in self.generator.classes:
                raise ValueError(f'{ann_file}: category {c["name"]!r} is not '
                                 f'one of {self.generator.classes}')
            cat_index[c['id']] = self.generator.classes.index(c['name'])
        sizes = {im['id']: (im['width'], im['height'])
                 for im in coco['images']}
        boxes = defaultdict(list)
        for a in coco['annotations']:
            x, y, w, h = a['bbox']
            boxes[a['image_id']].append((x, y, x + w, y + h,
                                         cat_index[a['category_id']]))
        gen = self.generator.prompt_generator
        items = []
        for rec in records:
            img_id = rec['image_id']
            if img_id not in sizes:
                raise ValueError(f'{question_file}: image_id {img_id} has no '
                                 f'image in {ann_file}')
            w, h = sizes[img_id]
            objs = boxes[img_id]
            b = torch.tensor([o[:4] for o in objs],
                             dtype=torch.float32).reshape(-1, 4)
            b = b / b.new_tensor([w, h, w, h])
            labels = torch.tensor([o[4] for o in objs], dtype=torch.long)
            objects = gen.select(b, labels, torch.ones(len(labels)))
            qs = rec['questions']
            items.append(
                dict(
                    perception=gen.render(objects, self.generator.classes),
                    questions=[q['question'] for q in qs],
                    answers=[q['answers'][0] for q in qs],
                    question_types=[q.get('type', '') for q in qs]))
        return items

    def __len__(self) -> int:
        return len(self.items) if self.items is not None \
            else self.num_samples

    def __getitem__(self, index: int) -> dict:
        item = self.items[index] if self.items is not None \
            else self.generator[index]
        return _pack(index, item)
