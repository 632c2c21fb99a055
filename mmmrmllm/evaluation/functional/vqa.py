"""VQA answer normalisation, the official VQAv2 accuracy and answer types."""
from typing import Sequence, Union

from mmpretrain.evaluation.metrics.vqa import (
    _process_digit_article,
    _process_punctuation,
)


def normalize_answer(answer: str) -> str:
    """The official VQA answer normalisation (via mmpretrain).

    Punctuation is removed, number words become digits (``'two'`` ->
    ``'2'``), articles are dropped and contractions are restored.
    """
    answer = answer.replace('\n', ' ').replace('\t', ' ').strip()
    answer = _process_punctuation(answer)
    return _process_digit_article(answer)


def vqa_score(pred: str,
              references: Sequence[str],
              min_consensus_refs: int = 10) -> float:
    """Accuracy of one predicted answer.

    With at least ``min_consensus_refs`` references (VQAv2, VizWiz and
    TextVQA have ten), the official VQAv2 score: ``min(1, matches / 3)``
    averaged over the leave-one-out subsets of the references. With fewer
    (GQA, CornerShapes: one), 1.0 if the normalised prediction equals a
    normalised reference, else 0.0.

    Args:
        pred (str): Predicted answer.
        references (Sequence[str]): Reference answers (not empty).
        min_consensus_refs (int): Fewest references for the consensus
            score. Defaults to 10.

    Returns:
        float: Accuracy in ``[0, 1]``.
    """
    if not references:
        raise ValueError('vqa_score needs at least one reference answer')
    pred = normalize_answer(pred)
    refs = [normalize_answer(r) for r in references]
    if len(refs) < min_consensus_refs:
        return float(pred in refs)
    matches = [ref == pred for ref in refs]
    total = sum(matches)
    scores = [min(1.0, (total - m) / 3.0) for m in matches]
    return sum(scores) / len(scores)


def answer_has_type(answer: str, kind: Union[str, Sequence[str]]) -> bool:
    """Whether ``answer`` is of a question type's kind of answer.

    Args:
        answer (str): A predicted answer (normalised here, so ``'Two.'``
            is a number).
        kind (str | Sequence[str]): ``'number'`` (digits after
            normalisation) or the type's answer words.

    Returns:
        bool: False for an empty answer.
    """
    answer = normalize_answer(answer)
    if isinstance(kind, str):
        if kind != 'number':
            raise ValueError(f"an answer kind is 'number' or a list of "
                             f'words, got {kind!r}')
        return answer.isdigit()
    return answer in {normalize_answer(w) for w in kind}
