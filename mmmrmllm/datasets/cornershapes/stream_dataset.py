"""The MLLM's broad world: an unlimited stream of generated images with
captions and questions, no boxes (vision-language pre-training)."""
from typing import List, Optional, Sequence

import numpy as np
from mmengine.dataset import Compose
from torch.utils.data import Dataset

from mmmrmllm.registry import DATASETS
from mmmrmllm.text import grid_cells

from .generator import CLASSES, generate_image

CAPTION_QUESTION = 'Describe the image.'
CAPTION_TYPE = 'caption'
# families the MLLM's image-text world holds ('vqa_train' mixes common and
# corner looks); 'novel' is never seen in training
_FAMILY_SPLIT = dict(mixed='vqa_train', common='det_train')


def caption(objects: Sequence[dict], canvas: int) -> str:
    """Every object of an image as ``<cell> <colour> <shape>``, left to
    right (the perception prompt's order and cell names).

    Args:
        objects (Sequence[dict]): ``generate_image``'s objects.
        canvas (int): Image side in pixels.

    Returns:
        str: E.g. ``'top-left red circle, bottom-right blue square'``.
    """
    cells = grid_cells(2)
    parts = []
    for o in sorted(objects, key=lambda o: (o['bbox'][0] + o['bbox'][2])):
        x1, y1, x2, y2 = o['bbox']
        col = int((x1 + x2) / 2 >= canvas / 2)
        row = int((y1 + y2) / 2 >= canvas / 2)
        parts.append(f'{cells[row * 2 + col]} {o["colour"]} {o["shape"]}')
    return ', '.join(parts)


def regions(objects: Sequence[dict]) -> dict:
    """Every object of an image as a grounded phrase: its box (xyxy image
    pixels), ``<colour> <shape>`` and whether its look is a corner one."""
    return dict(
        bboxes=np.array([o['bbox'] for o in objects],
                        np.float32).reshape(-1, 4),
        phrases=[f'{o["colour"]} {o["shape"]}' for o in objects],
        corner=[o['appearance'] == 'corner' for o in objects])


@DATASETS.register_module()
class CornerShapesImageTextStream(Dataset):
    """Generated images of common *and* corner looks with a caption naming
    every object and the benchmark's questions; no boxes
    (``has_det_ann=False``).

    Each item is a pure function of ``(seed, index)``, so the stream is
    effectively unlimited and a resumed run sees the same data. It uses
    the generator of ``vqa_train`` under its own seed, so its images are
    not the benchmark's; ``novel`` looks never occur. Its questions are
    worded as the training splits' (drawn from the training phrasings).

    Args:
        pipeline (list[dict]): Transforms after loading (encoder view,
            detector resize, packing), as for the benchmark's splits.
        num_samples (int): Length of the stream.
        seed (int): Seed of the stream (use one the benchmark's splits
            were not generated with).
        family (str): ``'mixed'`` (common + corner looks, default) or
            ``'common'``.
        caption_prob (float): Probability that an image also asks
            ``'Describe the image.'`` with its caption as the answer.
        questions_per_image (int, optional): Keep this many of an image's
            questions (caption included), drawn at random: more images
            per question in a batch of the same cost (the LLM's sequences
            cost, the images hardly). None (default) keeps all.
        classes (Sequence[str]): Shape classes.
        img_size (int): Image side in pixels.
        with_regions (bool): Also give every object's box and phrase
            (``<colour> <shape>``) as a grounded caption would (the
            MLLM's image-text world, as GRIT-style web data; the
            detector's data is not this stream): metainfo ``regions``,
            a dict of ``bboxes`` ((N, 4) float32 xyxy in image pixels),
            ``phrases`` and ``corner`` (the objects' looks). For the
            region-text loss of :class:`MRMLLM`. Defaults to False.
    """

    def __init__(self,
                 pipeline: List[dict],
                 num_samples: int = 10_000_000,
                 seed: int = 1000,
                 family: str = 'mixed',
                 caption_prob: float = 0.5,
                 questions_per_image: Optional[int] = None,
                 classes: Sequence[str] = CLASSES,
                 img_size: int = 128,
                 with_regions: bool = False) -> None:
        if family not in _FAMILY_SPLIT:
            raise ValueError(f'family must be one of {sorted(_FAMILY_SPLIT)}'
                             f' (novel looks stay unseen), got {family!r}')
        if not 0.0 <= caption_prob <= 1.0:
            raise ValueError(f'caption_prob must be in [0, 1], got '
                             f'{caption_prob}')
        self.split = _FAMILY_SPLIT[family]
        self.num_samples = num_samples
        self.seed = seed
        self.caption_prob = caption_prob
        if questions_per_image is not None and questions_per_image < 1:
            raise ValueError('questions_per_image must be at least 1, got '
                             f'{questions_per_image}')
        self.questions_per_image = questions_per_image
        self.classes = tuple(classes)
        self.img_size = img_size
        self.with_regions = with_regions
        self.metainfo = dict(classes=self.classes)
        self.pipeline = Compose(pipeline)

    def __len__(self) -> int:
        return self.num_samples

    def record(self, index: int) -> dict:
        """The ``index``-th image as a pipeline's input record (RGB image
        in ``image``, BGR in ``img`` as ``LoadImageFromFile`` gives)."""
        g = generate_image(self.seed, self.split, index, self.classes,
                           self.img_size)
        qs = list(g['questions'])
        # the caption's coin is its own stream, so captions do not change
        # the questions of an image
        rng = np.random.default_rng([self.seed, 7, index])
        if rng.random() < self.caption_prob:
            qs.append(
                dict(
                    question=CAPTION_QUESTION,
                    answers=[caption(g['objects'], self.img_size)],
                    type=CAPTION_TYPE))
        k = self.questions_per_image
        if k is not None and len(qs) > k:
            keep = sorted(rng.choice(len(qs), size=k, replace=False))
            qs = [qs[i] for i in keep]
        img = g['image'][..., ::-1].copy()
        extra = dict(regions=regions(g['objects'])) \
            if self.with_regions else {}
        return dict(
            **extra,
            img=img,
            image=g['image'],
            objects=g['objects'],
            img_id=index,
            img_path=f'{type(self).__name__}[seed={self.seed}]/{index}',
            img_shape=img.shape[:2],
            ori_shape=img.shape[:2],
            has_det_ann=False,
            questions=[q['question'] for q in qs],
            gt_answers=[list(q['answers']) for q in qs],
            question_types=[q['type'] for q in qs],
            question_ids=list(range(len(qs))))

    def __getitem__(self, index: int) -> dict:
        rec = self.record(index)
        rec.pop('image')
        rec.pop('objects')
        return self.pipeline(rec)

    def get_data_info(self, index: int) -> Optional[dict]:
        return self.record(index)
