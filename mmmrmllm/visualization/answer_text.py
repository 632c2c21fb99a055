"""Questions and answers of a predicted sample as lines of text, for the
visualizer's panel and the answer-logging hook."""
from typing import List


def format_answers(data_sample) -> List[str]:
    """Lines ``Q: ... | pred: ... | gt: ...`` for one predicted sample.

    Args:
        data_sample: A sample with ``questions`` and optionally
            ``pred_answers`` and ``gt_answers``.

    Returns:
        list[str]: One line per question.
    """
    questions = data_sample.get('questions', None) or []
    preds = data_sample.get('pred_answers', None) or [''] * len(questions)
    gts = data_sample.get('gt_answers', None) or [[]] * len(questions)
    lines = []
    for question, pred, refs in zip(questions, preds, gts):
        ref = '/'.join(sorted(set(refs))) if refs else '-'
        lines.append(f'Q: {question} | pred: {pred} | gt: {ref}')
    return lines
