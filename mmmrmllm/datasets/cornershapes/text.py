"""Text-only CornerShapes: perception prompts, questions and answers of
generated scenes, without images - the corpus of the language pre-training
stage (the project's stand-in for a pretrained LLM) and of its tokenizer.

A scene is a set of objects with boxes, sampled like the image generator's
(common: 1-4 objects, corner: 2-5, sizes 10-84 px), without rendering; its
questions come from the benchmark's own question builders
(:func:`questions.image_questions`), worded in the training phrasings by
default, so the language stage sees the questions the joint stage asks.
The perception prompt is written by a
:class:`DetectionPromptGenerator` from the ground-truth objects, optionally
corrupted like a detector's output (objects dropped, spurious ones added,
boxes jittered) so that the LLM learns that perception is noisy.
"""
from collections import Counter
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from mmmrmllm.text import corrupt_objects, text_sequence_template

from .phrasings import PHRASING_STYLES, Phrasing
from .questions import (
    clear_quadrants,
    counting_question,
    image_questions,
    shape_question,
)
from .scene import CLASSES, sample_object

FAMILIES = ('common', 'corner')


def _iou(a, b) -> float:
    ix = max(0., min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0., min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return inter / max(union - inter, 1e-6)


def sample_scene(rng: np.random.Generator,
                 family: str,
                 classes: Sequence[str] = CLASSES,
                 canvas: int = 128,
                 max_iou: float = 0.3) -> list:
    """Objects with boxes, no pixels.

    Args:
        rng (np.random.Generator): Random source.
        family (str): ``'common'`` or ``'corner'`` (object count and looks
            as in the image generator).
        classes (Sequence[str]): Shape classes.
        canvas (int): Image side in pixels.
        max_iou (float): Largest overlap between two objects' boxes.

    Returns:
        list: Objects with ``shape``, ``colour``, ``box`` (xyxy pixels).
    """
    if family not in FAMILIES:
        raise ValueError(f'unknown family {family!r}; choose {FAMILIES}')
    num = int(rng.integers(1, 5)) if family == 'common' else \
        int(rng.integers(2, 6))
    objs = []
    for _ in range(num):
        look = 'corner' if family == 'corner' and rng.random() < 0.6 \
            else 'common'
        obj = sample_object(rng, look, classes, canvas / 128.0)
        half = obj.size / 2
        for _ in range(20):
            cx, cy = rng.uniform(half, canvas - half, size=2)
            box = (cx - half, cy - half, cx + half, cy + half)
            if all(_iou(box, o.box) <= max_iou for o in objs) and all(
                    o.colour != obj.colour or _iou(box, o.box) == 0
                    for o in objs):
                obj.box = tuple(float(v) for v in box)
                objs.append(obj)
                break
    return objs


class CornerShapesText:
    """An unlimited, deterministic stream of text-only samples.

    Item ``i`` is a pure function of ``(seed, i)``: one scene, its
    perception text and every question the templates can ask about it.

    Args:
        prompt_generator: A :class:`DetectionPromptGenerator` (or its
            config dict) that writes the perception text.
        classes (Sequence[str]): Shape classes.
        seed (int): Random seed.
        canvas (int): Image side in pixels.
        corner_prob (float): Fraction of corner-family scenes.
        corrupt_prob (float): Fraction of scenes whose perception text is
            written from a corrupted copy (see
            :func:`mmmrmllm.text.corrupt_objects`);
            the answers always come from the true scene.
        corrupt_cfg (dict, optional): :func:`corrupt_objects` kwargs.
        lookup_first (int): A curriculum: scenes with an index below it ask
            only the questions answered by a look-up in the prompt - how
            many of every class, and what shape is at each clear position
            - so that the look-ups form before the questions whose answers
            the text cannot tell (colours) dilute the signal.
        phrasing (str): How the questions are worded, a
            :class:`~.questions.Phrasing` style: ``'train'`` (default,
            drawn from the training phrasings, as the training splits) or
            ``'template'``.
    """

    def __init__(self,
                 prompt_generator,
                 classes: Sequence[str] = CLASSES,
                 seed: int = 0,
                 canvas: int = 128,
                 corner_prob: float = 0.5,
                 corrupt_prob: float = 0.1,
                 corrupt_cfg: Optional[dict] = None,
                 lookup_first: int = 0,
                 phrasing: str = 'train') -> None:
        if phrasing not in PHRASING_STYLES:
            raise ValueError(f'unknown phrasing {phrasing!r}; choose from '
                             f'{PHRASING_STYLES}')
        if isinstance(prompt_generator, dict):
            from mmmrmllm.registry import MODELS
            prompt_generator = MODELS.build(prompt_generator)
        self.prompt_generator = prompt_generator
        self.classes = list(classes)
        self.seed = seed
        self.canvas = canvas
        self.corner_prob = corner_prob
        self.corrupt_prob = corrupt_prob
        self.corrupt_cfg = dict(corrupt_cfg or {})
        self.lookup_first = lookup_first
        self.phrasing = phrasing

    def __getitem__(self, index: int) -> Dict[str, object]:
        """Returns ``perception`` (str), ``questions``, ``answers`` and
        ``question_types`` (lists of str) of scene ``index``."""
        rng = np.random.default_rng([self.seed, 7919, index])
        # the wording's own stream: it changes no scene
        wording = Phrasing(self.phrasing,
                           np.random.default_rng([self.seed, 7919, index, 31]))
        family = 'corner' if rng.random() < self.corner_prob else 'common'
        objs: List = []
        qs: List[dict] = []
        while not qs:
            objs = sample_scene(rng, family, self.classes, self.canvas)
            if objs:
                qs = image_questions(rng, objs, self.classes, 'mixed',
                                     self.canvas, wording)
        if index < self.lookup_first:
            counts = Counter(o.shape for o in objs)
            qs = [counting_question(c, counts[c], wording)
                  for c in self.classes] + [
                shape_question(q, obj.shape, wording)
                for q, obj in clear_quadrants(objs, self.canvas).items()
            ]
        boxes = np.array([o.box for o in objs], dtype=np.float64)
        boxes = boxes / self.canvas
        labels = np.array([self.classes.index(o.shape) for o in objs])
        if rng.random() < self.corrupt_prob:
            boxes, labels = corrupt_objects(rng, boxes, labels,
                                            len(self.classes),
                                            **self.corrupt_cfg)
        objects = self.prompt_generator.select(
            torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            torch.as_tensor(labels, dtype=torch.long),
            torch.ones(len(labels)))
        perception = self.prompt_generator.render(objects, self.classes)
        return dict(
            perception=perception,
            questions=[q['question'] for q in qs],
            answers=[q['answers'][0] for q in qs],
            question_types=[q['type'] for q in qs])

    def texts(self, num: int,
              template: str = text_sequence_template()) -> List[str]:
        """Whole sequences of the first ``num`` items as an LLM reads them
        - a tokenizer corpus.

        Args:
            num (int): Items to write.
            template (str): A sequence's text, with ``{perception}``,
                ``{question}`` and ``{answer}``; defaults to
                :class:`LLMHead`'s default prompt and answer prefix
                (:func:`mmmrmllm.text.text_sequence_template`).

        Returns:
            list[str]: One text per question.
        """
        out = []
        for i in range(num):
            item = self[i]
            for q, a in zip(item['questions'], item['answers']):
                out.append(
                    template.format(
                        perception=item['perception'], question=q, answer=a))
        return out


# The perception prompt of the main job (DetectionPromptGenerator kwargs;
# configs/_base_/models/cornershapes_prompt.py is the same), made for a
# small LM to read with one look-up per question: each count follows its
# class name ("How many circles" -> "circle 2") and each position comes
# before its shape ("in the top-left" -> "top-left circle"); objects are
# listed left to right. The benchmark's tokenizer learns from this text.
TEXT_PROMPT = dict(
    template='{counts}Objects: {objects}.\n',
    counts_template='Counts: {counts}. ',
    count_template='{name} {count}',
    object_template='{box} {name}',
    separator=', ',
    score_thr=0.3,
    max_objects=10,
    nms_iou_thr=0.5,
    coord_style='grid',
    grid_size=2,
    with_counts=True,
    counts_all_classes=True,
    sort='x')
