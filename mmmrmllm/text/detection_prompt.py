"""DetectionPromptGenerator: detections → text for the LLM prompt.

The model writes its detections with it; the data side writes the text
corpus of the language stage with it, so both read the same words.
"""
import random
from collections import Counter
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import Tensor

from mmmrmllm.registry import MODELS
from mmmrmllm.utils.deprecation import renamed_class

# (row words, column words) per grid size; '' marks the middle cell.
GRID_WORDS = {
    2: (('top', 'bottom'), ('left', 'right')),
    3: (('top', '', 'bottom'), ('left', '', 'right')),
}


def cell_name(row: str, col: str) -> str:
    """The name of a grid cell: ``'top-left'``, ``'left'``, ... or
    ``'centre'`` for the middle.

    A corner's row and column words are joined by a hyphen, so that every
    cell is one word - the prompt's positions, the questions' quadrants and
    the position answers all use this name, and the benchmark's tokenizer
    keeps each one whole (one token: with two-word names a small LM had to
    match a position over two tokens, and resolved only one of them).

    Args:
        row (str): A row word of :data:`GRID_WORDS` (``''`` for the middle).
        col (str): A column word (``''`` for the middle).

    Returns:
        str: The cell's name.
    """
    return 'centre' if row == col == '' else '-'.join(
        w for w in (row, col) if w)


def grid_cells(grid_size: int = 2) -> Tuple[str, ...]:
    """Names of the cells of the ``'grid'`` coordinate style, row by row
    (:func:`cell_name`).

    Args:
        grid_size (int): Cells per side (2 or 3).

    Returns:
        tuple[str]: E.g. ``('top-left', 'top-right', 'bottom-left',
        'bottom-right')`` for 2.
    """
    rows, cols = GRID_WORDS[grid_size]
    return tuple(cell_name(r, c) for r in rows for c in cols)


def point_cell(x: float, y: float, grid_size: int = 2) -> str:
    """The name of the cell holding a point.

    Args:
        x (float): Normalised horizontal position (0 left, 1 right);
            clamped to [0, 1].
        y (float): Normalised vertical position (0 top, 1 bottom).
        grid_size (int): Cells per side (2 or 3).

    Returns:
        str: :func:`cell_name` of the cell (a point on a dividing line
        belongs to the cell right of / below it).
    """
    rows, cols = GRID_WORDS[grid_size]
    x = min(max(x, 0.), 1. - 1e-6)
    y = min(max(y, 0.), 1. - 1e-6)
    return cell_name(rows[int(y * grid_size)], cols[int(x * grid_size)])


def plural(name: str) -> str:
    """English plural of a class name (``circle`` → ``circles``)."""
    if name.endswith(('s', 'x', 'ch', 'sh')):
        return name + 'es'
    if name.endswith('y') and name[-2:-1] not in 'aeiou':
        return name[:-1] + 'ies'
    return name + 's'


class PerceptionObjects(NamedTuple):
    """Detections selected for the prompt, highest score first.

    Attributes:
        boxes (Tensor): (K, 4) normalised xyxy.
        labels (Tensor): (K,).
        scores (Tensor): (K,).
    """
    boxes: Tensor
    labels: Tensor
    scores: Tensor

    def __len__(self) -> int:
        return len(self.scores)


@MODELS.register_module()
class DetectionPromptGenerator:
    """Write detections into the LLM prompt (perception-embedded prompt).

    Selection: score >= ``score_thr``, at most ``max_objects`` (highest
    score first); during training each kept object is dropped with
    probability ``drop_rate``. The selected objects are then listed in
    ``sort`` order. When the prompt must shrink to fit the LLM context,
    :meth:`render` is called with ``num_drop`` and omits the lowest-scoring
    objects first.

    Args:
        template (str): Whole text, with ``{objects}`` and optionally
            ``{counts}``.
        object_template (str): One object; fields ``name``, ``box``,
            ``score``.
        separator (str): Between objects.
        empty_text (str): The whole text when no object is listed.
        counts_template (str): Per-class counts, field ``counts``; used when
            ``with_counts``.
        count_template (str): One class in the counts; fields ``name``,
            ``plural`` (``name`` + s/es) and ``count``. A small LM reads
            ``'{plural} {count}'`` more easily: the question's words
            ("how many circles") come right before the answer.
        score_thr (float): Minimum score.
        max_objects (int): Maximum listed objects.
        sort (str): ``'score'`` (descending), ``'position'`` (top-to-bottom,
            left-to-right), ``'x'`` (left-to-right by box centre) or
            ``'area'`` (descending).
        coord_style (str): ``'norm'`` (0-1, 3 decimals), ``'int999'``
            (integers 0-999) or ``'grid'`` (the cell of the box centre in
            words, e.g. ``top-left``: easier for small LMs than numbers).
        grid_size (int): Cells per side for ``'grid'`` (2 or 3).
        with_counts (bool): Add per-class counts.
        counts_all_classes (bool): List every class in the counts, with 0
            for the undetected ones (sensible for small label sets).
        drop_rate (float): Per-object drop probability in training.
        nms_iou_thr (float, optional): Class-wise NMS at this IoU before
            the cap. DETR-family detectors have no NMS and, while
            undertrained, repeat objects, which makes per-class counts
            wrong. None (default) keeps every detection.
    """

    def __init__(self,
                 template: str = 'Detected: {objects}.\n',
                 object_template: str = '{name} {box} {score:.2f}',
                 separator: str = '; ',
                 empty_text: str = 'Detected: no objects.\n',
                 counts_template: str = 'Counts: {counts}. ',
                 count_template: str = '{count} {name}',
                 score_thr: float = 0.3,
                 max_objects: int = 10,
                 sort: str = 'score',
                 coord_style: str = 'norm',
                 grid_size: int = 2,
                 with_counts: bool = False,
                 counts_all_classes: bool = False,
                 drop_rate: float = 0.0,
                 nms_iou_thr: Optional[float] = None) -> None:
        if sort not in ('score', 'position', 'x', 'area'):
            raise ValueError(f'unknown sort {sort!r}')
        if coord_style not in ('norm', 'int999', 'grid'):
            raise ValueError(f'unknown coord_style {coord_style!r}')
        if grid_size not in GRID_WORDS:
            raise ValueError(f'grid_size must be 2 or 3, got {grid_size}')
        self.template = template
        self.object_template = object_template
        self.separator = separator
        self.empty_text = empty_text
        self.counts_template = counts_template
        self.count_template = count_template
        self.score_thr = score_thr
        self.max_objects = max_objects
        self.sort = sort
        self.coord_style = coord_style
        self.grid_size = grid_size
        self.with_counts = with_counts
        self.counts_all_classes = counts_all_classes
        self.drop_rate = drop_rate
        self.nms_iou_thr = nms_iou_thr

    def select(self,
               boxes: Tensor,
               labels: Tensor,
               scores: Tensor,
               training: bool = False) -> PerceptionObjects:
        """Threshold, cap and (in training) randomly drop detections.

        Args:
            boxes (Tensor): (N, 4) normalised xyxy.
            labels (Tensor): (N,).
            scores (Tensor): (N,).
            training (bool): Apply ``drop_rate``.

        Returns:
            PerceptionObjects: Highest score first.
        """
        keep = scores >= self.score_thr
        boxes, labels, scores = boxes[keep], labels[keep], scores[keep]
        if self.nms_iou_thr is not None and len(scores):
            from torchvision.ops import batched_nms
            keep = batched_nms(boxes.float(), scores.float(), labels,
                               self.nms_iou_thr)
            boxes, labels, scores = boxes[keep], labels[keep], scores[keep]
        order = scores.argsort(descending=True)[:self.max_objects]
        if training and self.drop_rate > 0 and len(order):
            kept = [i for i in order.tolist()
                    if random.random() >= self.drop_rate]
            order = order.new_tensor(kept, dtype=torch.long)
        return PerceptionObjects(boxes[order], labels[order], scores[order])

    def _box_text(self, box: Sequence[float]) -> str:
        if self.coord_style == 'grid':
            return point_cell((box[0] + box[2]) / 2, (box[1] + box[3]) / 2,
                              self.grid_size)
        if self.coord_style == 'norm':
            return '[' + ', '.join(f'{v:.3f}' for v in box) + ']'
        return '[' + ', '.join(str(min(999, max(0, round(v * 1000))))
                               for v in box) + ']'

    def render(self,
               objects: PerceptionObjects,
               class_names: Sequence[str],
               num_drop: int = 0) -> str:
        """Text for ``objects`` without the ``num_drop`` lowest-scoring.

        Args:
            objects (PerceptionObjects): From :meth:`select`.
            class_names (Sequence[str]): Name per label index.
            num_drop (int): Objects to omit (from the lowest score up).

        Returns:
            str: The perception text.
        """
        n = max(0, len(objects) - num_drop)
        if n == 0 and not (self.with_counts and self.counts_all_classes):
            return self.empty_text
        boxes = objects.boxes[:n].tolist()
        labels = objects.labels[:n].tolist()
        scores = objects.scores[:n].tolist()
        idx: List[int] = list(range(n))
        if self.sort == 'position':
            idx.sort(key=lambda i: (boxes[i][1], boxes[i][0]))
        elif self.sort == 'x':
            idx.sort(key=lambda i: boxes[i][0] + boxes[i][2])
        elif self.sort == 'area':
            idx.sort(key=lambda i: -(boxes[i][2] - boxes[i][0]) *
                     (boxes[i][3] - boxes[i][1]))
        items = [
            self.object_template.format(
                name=class_names[labels[i]],
                box=self._box_text(boxes[i]),
                score=scores[i]) for i in idx
        ]
        counts = ''
        if self.with_counts:
            c = Counter(class_names[labels[i]] for i in idx)
            if self.counts_all_classes:
                c = {name: c.get(name, 0) for name in class_names}
            counts = self.counts_template.format(
                counts=', '.join(
                    self.count_template.format(
                        name=k, plural=plural(k), count=v)
                    for k, v in c.items()))
        fields = dict(objects=self.separator.join(items))
        if '{counts}' in self.template:
            fields['counts'] = counts
            return self.template.format(**fields)
        return counts + self.template.format(**fields)

    def __call__(self,
                 boxes: Tensor,
                 labels: Tensor,
                 scores: Tensor,
                 class_names: Sequence[str],
                 training: bool = False,
                 num_drop: int = 0) -> str:
        """:meth:`select` then :meth:`render`."""
        objects = self.select(boxes, labels, scores, training)
        return self.render(objects, class_names, num_drop)




# the generator's name before it was named after what it writes
PerceptionPromptGenerator = MODELS.register_module(module=renamed_class(
    DetectionPromptGenerator, 'PerceptionPromptGenerator'))
