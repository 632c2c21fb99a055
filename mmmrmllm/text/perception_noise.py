"""Detector-like noise on ground-truth objects.

Both the text corpus of the language stage (CornerShapes text) and the
joint model's scheduled ground truth (``GTPerceptionSchedule``) write the
perception prompt from such a noisy copy, so that the LLM learns that
perception is noisy.
"""
from typing import Tuple

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
