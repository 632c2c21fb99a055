"""POPE's reading of a free-form answer and its binary scores."""
from typing import Dict, Sequence

from .vqa import normalize_answer


def pope_answer(text: str) -> str:
    """The yes/no that POPE's reference ``evaluate.py`` reads in an answer.

    Only the first sentence counts (the text before the first ``.``),
    commas are removed and it is split at spaces: ``'no'`` if a word is
    ``No``, ``no`` or ``not``, else ``'yes'``. An answer that is neither
    yes nor no therefore counts as **yes**.

    Args:
        text (str): The model's answer.

    Returns:
        str: ``'yes'`` or ``'no'``.
    """
    words = text.split('.')[0].replace(',', '').split(' ')
    return 'no' if {'No', 'no', 'not'} & set(words) else 'yes'


def is_yes_or_no(text: str) -> bool:
    """Whether an answer says yes or no: its first word after the VQA
    normalisation (:func:`normalize_answer`) is ``yes`` or ``no``."""
    words = normalize_answer(text).lower().split()
    return bool(words) and words[0] in ('yes', 'no')


def binary_scores(labels: Sequence[bool],
                  preds: Sequence[bool]) -> Dict[str, float]:
    """Accuracy, precision, recall, F1 and the ratio of positive answers.

    A ratio whose denominator is 0 (no positive prediction, or no positive
    label) is 0.0, and so is F1 when precision and recall both are.

    Args:
        labels (Sequence[bool]): True for a positive ("yes") reference.
        preds (Sequence[bool]): True for a positive answer.

    Returns:
        dict[str, float]: ``acc``, ``precision``, ``recall``, ``f1``,
        ``yes_ratio``.
    """
    if len(labels) != len(preds) or not labels:
        raise ValueError(f'binary_scores needs as many labels as '
                         f'predictions, at least one: {len(labels)} labels, '
                         f'{len(preds)} predictions')
    tp = sum(p and t for t, p in zip(labels, preds))
    fp = sum(p and not t for t, p in zip(labels, preds))
    fn = sum(t and not p for t, p in zip(labels, preds))
    tn = len(labels) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) \
        if precision + recall else 0.0
    return dict(acc=(tp + tn) / len(labels), precision=precision,
                recall=recall, f1=f1, yes_ratio=(tp + fp) / len(labels))
