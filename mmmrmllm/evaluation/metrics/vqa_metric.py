"""VQA accuracy over multi-question, mixed samples."""
from collections import Counter, defaultdict
from typing import Dict, Optional, Sequence, Union

from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmmrmllm.registry import METRICS
from mmmrmllm.structures import answers_of, questions_of, text_field

from ..functional import answer_has_type, normalize_answer, vqa_score

# a question type's kind of answer: 'number' or its words
AnswerKind = Union[str, Sequence[str]]


@METRICS.register_module()
class VQAAccuracy(BaseMetric):
    """VQA accuracy with a per-question-type breakdown.

    Wraps mmpretrain's answer normalisation for samples that carry several
    questions (``questions``, ``gt_answers``, ``question_types``,
    ``pred_answers``; contracts.md) and for mixed evaluations: samples
    without questions are skipped, questions without reference answers
    (test splits) are not scored. The score per question is
    :func:`vqa_score`: the official VQAv2 leave-one-out consensus with at
    least ``min_consensus_refs`` references, normalised exact match
    otherwise.

    Reported (fractions in ``[0, 1]``): ``acc``; ``acc_<type>`` for each
    non-empty question type; ``num_questions``; ``num_skipped_too_long``
    when questions did not fit the LLM's context (scored 0, see
    ``LLMHead(too_long=...)``). Counts of generated answers that are no
    answer: ``num_empty`` (empty after normalisation), and for the types
    whose kind of answer ``answer_types`` knows, ``type_mismatch`` (answers
    not of their type's kind: a colour to a counting question, ...) and
    ``type_mismatch_<type>``; questions of other types are not judged.

    Args:
        min_consensus_refs (int): See :func:`vqa_score`. Defaults to 10.
        answer_types (dict, optional): Question type → its kind of answer,
            ``'number'`` or a list of words (see :func:`answer_has_type`).
            Defaults to CornerShapes' types
            (``mmmrmllm.datasets.cornershapes.questions.ANSWER_TYPES``);
            ``{}`` judges none.
        collect_device (str): See MMEngine's ``BaseMetric``.
        prefix (str, optional): Defaults to ``'vqa'``.

    Raises:
        ValueError: If a sample with questions has no or too few
            ``pred_answers``.
    """
    default_prefix: Optional[str] = 'vqa'

    def __init__(self,
                 min_consensus_refs: int = 10,
                 answer_types: Optional[Dict[str, AnswerKind]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.min_consensus_refs = min_consensus_refs
        if answer_types is None:
            from mmmrmllm.datasets.cornershapes.questions import ANSWER_TYPES
            answer_types = ANSWER_TYPES
        for qtype, kind in answer_types.items():
            if isinstance(kind, str) and kind != 'number':
                raise ValueError(
                    f'answer_types[{qtype!r}]: a kind of answer is '
                    f"'number' or a list of words, got {kind!r}")
        self.answer_types = dict(answer_types)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Score each answered question of each sample.

        Leaves one result per sample (MMEngine cuts and merges results
        across ranks assuming so): the scores and types of its questions,
        its empty answers and the types of its answers of the wrong type.
        """
        for sample in data_samples:
            scored = dict(scores=[], types=[], skipped=0, empty=0,
                          mismatched=[])
            self.results.append(scored)
            questions = questions_of(sample)
            if not questions:
                continue
            preds = sample.get('pred_answers')
            if preds is None or len(preds) != len(questions):
                raise ValueError(
                    f'sample img_id={sample.get("img_id")!r} has '
                    f'{len(questions)} questions but pred_answers={preds!r}')
            refs = answers_of(sample) or [[] for _ in questions]
            types = text_field(sample, 'question_types') or \
                [''] * len(questions)
            skipped = set(sample.get('skipped_questions') or ())
            for j, (pred, ref, qtype) in enumerate(zip(preds, refs, types)):
                if not ref:
                    continue
                # a question too long for the LLM's context scores 0 (it
                # stays in the denominator) and is counted
                scored['skipped'] += j in skipped
                scored['scores'].append(
                    vqa_score(pred, ref, self.min_consensus_refs))
                scored['types'].append(qtype or '')
                if j in skipped:
                    continue  # no answer was generated
                scored['empty'] += not normalize_answer(pred)
                kind = self.answer_types.get(qtype)
                if kind is not None and not answer_has_type(pred, kind):
                    scored['mismatched'].append(qtype)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Overall and per-type accuracy ({} if nothing was scored)."""
        by_type = defaultdict(list)
        scores = []
        for r in results:
            scores.extend(r['scores'])
            for score, qtype in zip(r['scores'], r['types']):
                by_type[qtype].append(score)
        if not scores:
            MMLogger.get_current_instance().warning(
                f'{type(self).__name__}: no answered questions to evaluate')
            return {}
        metrics = dict(acc=sum(scores) / len(scores))
        for qtype in sorted(t for t in by_type if t):
            metrics[f'acc_{qtype}'] = sum(by_type[qtype]) / len(by_type[qtype])
        metrics['num_questions'] = len(scores)
        metrics['num_empty'] = sum(r.get('empty', 0) for r in results)
        if any(t in self.answer_types for t in by_type):
            mismatched = Counter(
                t for r in results for t in r.get('mismatched', ()))
            metrics['type_mismatch'] = sum(mismatched.values())
            for qtype in sorted(t for t in by_type if t in self.answer_types):
                metrics[f'type_mismatch_{qtype}'] = mismatched[qtype]
        skipped = sum(r.get('skipped', 0) for r in results)
        if skipped:
            metrics['num_skipped_too_long'] = skipped
            MMLogger.get_current_instance().warning(
                f'{type(self).__name__}: {skipped} of {len(scores)} '
                'questions did not fit the LLM context and were scored 0')
        return metrics


@METRICS.register_module()
class GQAAccuracy(VQAAccuracy):
    """GQA accuracy: normalised exact match against the reference answer,
    with the per-type breakdown of :class:`VQAAccuracy`.

    Args:
        collect_device (str): See MMEngine's ``BaseMetric``.
        prefix (str, optional): Defaults to ``'gqa'``.
    """
    default_prefix: Optional[str] = 'gqa'

    def __init__(self,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(
            min_consensus_refs=2**31,
            collect_device=collect_device,
            prefix=prefix)
