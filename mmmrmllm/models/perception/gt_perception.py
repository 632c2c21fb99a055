"""Ground-truth perception on a decaying schedule, corrupted like a
detector's output (a training-time option of :class:`MRMLLM`)."""
from typing import Optional, Tuple

import numpy as np


def corrupt_objects(rng: np.random.Generator,
                    boxes: np.ndarray,
                    labels: np.ndarray,
                    num_classes: int,
                    drop: float = 0.1,
                    add: float = 0.1,
                    jitter: float = 0.05) -> Tuple[np.ndarray, np.ndarray]:
    """A detector-like noisy copy of ground-truth objects.

    Args:
        rng (np.random.Generator): Random source.
        boxes (np.ndarray): (N, 4) normalised xyxy.
        labels (np.ndarray): (N,).
        num_classes (int): For the labels of added objects.
        drop (float): Probability of dropping each object (a miss).
        add (float): Probability of adding one spurious object.
        jitter (float): Box noise, fraction of the box size.

    Returns:
        tuple[np.ndarray, np.ndarray]: (M, 4) boxes in [0, 1], (M,) labels.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    keep = rng.random(len(boxes)) >= drop
    boxes, labels = boxes[keep], labels[keep]
    if len(boxes):
        size = np.tile(boxes[:, 2:] - boxes[:, :2], 2)
        boxes = boxes + rng.normal(size=boxes.shape) * size * jitter
    if rng.random() < add:
        cx, cy = rng.uniform(0.1, 0.9, size=2)
        half = rng.uniform(0.04, 0.25)
        boxes = np.concatenate(
            [boxes, [[cx - half, cy - half, cx + half, cy + half]]])
        labels = np.concatenate([labels, [rng.integers(num_classes)]])
    return np.clip(boxes, 0, 1), labels.astype(np.int64)


class GTPerceptionSchedule:
    """When to show ground truth instead of detections in training.

    For a sample that has both annotated boxes and questions, the box
    tokens and the prompt come from its ground truth - corrupted by
    :func:`corrupt_objects` - with probability ``prob(iter)``, which falls
    linearly from ``prob_start`` to ``prob_end`` over ``decay_iters``; from
    the detector's predictions otherwise. Early in training, when the
    detector is still poor, the LLM learns from informative perception;
    later it learns from what it will see at test time.

    Args:
        prob_start (float): Probability at iteration 0.
        prob_end (float): Probability from ``decay_iters`` on.
        decay_iters (int): Length of the linear decay.
        corrupt (dict, optional): :func:`corrupt_objects` kwargs (``drop``,
            ``add``, ``jitter``).
    """

    def __init__(self,
                 prob_start: float = 1.0,
                 prob_end: float = 0.0,
                 decay_iters: int = 1000,
                 corrupt: Optional[dict] = None) -> None:
        for name, p in (('prob_start', prob_start), ('prob_end', prob_end)):
            if not 0 <= p <= 1:
                raise ValueError(f'{name} must be in [0, 1], got {p}')
        if decay_iters < 0:
            raise ValueError(f'decay_iters must be >= 0, got {decay_iters}')
        self.prob_start = prob_start
        self.prob_end = prob_end
        self.decay_iters = decay_iters
        self.corrupt = dict(drop=0.1, add=0.1, jitter=0.05)
        self.corrupt.update(corrupt or {})

    def prob(self, iteration: int) -> float:
        """Probability of ground truth at ``iteration``."""
        if self.decay_iters == 0 or iteration >= self.decay_iters:
            return self.prob_end
        frac = iteration / self.decay_iters
        return self.prob_start + (self.prob_end - self.prob_start) * frac
