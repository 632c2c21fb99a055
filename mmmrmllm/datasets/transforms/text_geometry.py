"""Keeping questions true to the image under geometric augmentation.

A flip turns "left" into "right"; a crop can remove the object a question
is about. Samples with questions are therefore refused by
:class:`EncoderView` and :class:`PackMRMLLMInputs` when a geometric
transform changed the image beyond scaling, unless a transform recomputed
the text (:class:`RandomFlipWithText`). Transforms that cannot recompute
answers (crop, mosaic, affine) are wrapped in :class:`SkipIfQuestions`.
"""
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform, Compose
from mmdet.datasets.transforms import RandomFlip

from mmmrmllm.registry import TRANSFORMS

HORIZONTAL_SWAPS = (('left', 'right'), ('leftmost', 'rightmost'))
VERTICAL_SWAPS = (('top', 'bottom'), ('above', 'below'), ('upper', 'lower'),
                  ('topmost', 'bottommost'))


def text_geometry_violation(results: dict) -> Optional[str]:
    """Why the questions of ``results`` no longer match its image, if so.

    Looks at the ``flip`` flag and at the ``homography_matrix`` that mmdet's
    geometric transforms (Resize, RandomFlip, RandomCrop, RandomAffine, ...)
    record. Anything beyond a positive scaling since the text was last made
    consistent (``text_homography``) is a violation.

    Returns:
        str | None: A description of the violation, or None.
    """
    if not results.get('questions'):
        return None
    if results.get('flip') and not results.get('text_flipped'):
        return (f'a {results.get("flip_direction")} flip without updating '
                'the questions (use RandomFlipWithText)')
    matrix = results.get('homography_matrix')
    if matrix is None:
        return None
    matrix = np.asarray(matrix, dtype=np.float64)
    ref = results.get('text_homography')
    if ref is not None:
        matrix = matrix @ np.linalg.inv(np.asarray(ref, dtype=np.float64))
    off_diagonal = np.abs(matrix[[0, 0, 1, 1, 2, 2], [1, 2, 0, 2, 0, 1]])
    if off_diagonal.max() > 1e-3 or matrix[0, 0] <= 0 or matrix[1, 1] <= 0:
        return ('a crop, translation, flip or warp changed the image (wrap '
                'the transform in SkipIfQuestions)')
    return None


def swap_words(text: str, pairs: Sequence[Tuple[str, str]]) -> str:
    """Swap each word of ``pairs`` with its partner, keeping the case."""
    mapping: Dict[str, str] = {}
    for a, b in pairs:
        mapping[a] = b
        mapping[b] = a
    pattern = re.compile(
        r'\b(' + '|'.join(sorted(mapping, key=len, reverse=True)) + r')\b',
        re.IGNORECASE)

    def _sub(match: re.Match) -> str:
        word = match.group(0)
        new = mapping[word.lower()]
        if word.isupper():
            return new.upper()
        if word[0].isupper():
            return new.capitalize()
        return new

    return pattern.sub(_sub, text)


@TRANSFORMS.register_module()
class RandomFlipWithText(RandomFlip):
    """mmdet's ``RandomFlip`` that also flips the words of questions/answers.

    After a horizontal flip "left" and "right" swap places in every question
    and reference answer (after a vertical flip "top" and "bottom", ...), so
    the answer stays true for the flipped image.

    Args:
        horizontal_swaps (Sequence[tuple[str, str]]): Word pairs swapped by a
            horizontal flip.
        vertical_swaps (Sequence[tuple[str, str]]): Word pairs swapped by a
            vertical flip.
        **kwargs: Arguments of mmdet's ``RandomFlip`` (``prob``,
            ``direction``).
    """

    def __init__(
        self,
        *args,
        horizontal_swaps: Sequence[Tuple[str, str]] = HORIZONTAL_SWAPS,
        vertical_swaps: Sequence[Tuple[str, str]] = VERTICAL_SWAPS,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.horizontal_swaps = [tuple(p) for p in horizontal_swaps]
        self.vertical_swaps = [tuple(p) for p in vertical_swaps]

    def _flip(self, results: dict) -> None:
        super()._flip(results)
        direction = results['flip_direction']
        pairs: List[Tuple[str, str]] = []
        if direction in ('horizontal', 'diagonal'):
            pairs += self.horizontal_swaps
        if direction in ('vertical', 'diagonal'):
            pairs += self.vertical_swaps
        if results.get('questions') and pairs:
            results['questions'] = [
                swap_words(q, pairs) for q in results['questions']
            ]
            results['gt_answers'] = [[swap_words(a, pairs) for a in answers]
                                     for answers in results['gt_answers']]
        results['text_flipped'] = True
        if results.get('homography_matrix') is not None:
            results['text_homography'] = np.array(
                results['homography_matrix'], copy=True)


@TRANSFORMS.register_module()
class SkipIfQuestions(BaseTransform):
    """Apply ``transforms`` only to samples without questions.

    For augmentations that cannot recompute answers (crops, mosaic, affine
    warps): detection-only samples get them, samples with questions pass
    through unchanged.

    Args:
        transforms (list[dict | callable]): The wrapped transforms.
    """

    def __init__(self, transforms: list) -> None:
        self.transforms = Compose(transforms)

    def transform(self, results: dict) -> Optional[dict]:
        if results.get('questions'):
            return results
        return self.transforms(results)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(transforms={self.transforms})'
