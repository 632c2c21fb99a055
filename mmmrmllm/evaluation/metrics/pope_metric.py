"""POPE: object hallucination measured with yes/no probes."""
from collections import defaultdict
from typing import Dict, Optional, Sequence

from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmmrmllm.registry import METRICS
from mmmrmllm.structures import answers_of, questions_of, text_field

from ..functional import (
    binary_scores,
    is_yes_or_no,
    normalize_answer,
    pope_answer,
)


@METRICS.register_module()
class POPEMetric(BaseMetric):
    """POPE's scores per negative sampling, "yes" being the positive class.

    Scores the questions whose type starts with ``type_prefix`` (the probes
    of :func:`mmmrmllm.datasets.build_pope_questions`: type
    ``pope_<sampling>``, reference ``yes`` or ``no``) and ignores the
    others, so it can sit next to :class:`VQAAccuracy` in one evaluator.
    Each answer is read as POPE's reference ``evaluate.py`` reads it
    (:func:`~mmmrmllm.evaluation.functional.pope_answer`): ``no`` if the
    first sentence has the word ``No``, ``no`` or ``not``, else ``yes`` --
    an answer that is neither yes nor no counts as **yes** there. Such
    answers (first word, after the VQA normalisation, neither ``yes`` nor
    ``no``) are counted and reported.

    Reported per sampling ``s`` (fractions in ``[0, 1]``): ``s_acc``,
    ``s_precision``, ``s_recall``, ``s_f1``, ``s_yes_ratio`` (the share of
    answers read as yes), ``s_num_questions`` and ``s_num_unclear`` (the
    answers that were neither yes nor no).

    Args:
        type_prefix (str): Question types scored. Defaults to ``'pope_'``.
        collect_device (str): See MMEngine's ``BaseMetric``.
        prefix (str, optional): Defaults to ``'pope'``.

    Raises:
        ValueError: If a sample with POPE questions has too few
            ``pred_answers``, or a POPE question's reference is not
            ``yes`` or ``no``.
    """
    default_prefix: Optional[str] = 'pope'

    def __init__(self,
                 type_prefix: str = 'pope_',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.type_prefix = type_prefix

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Read each POPE answer of each sample.

        Leaves one result per sample (MMEngine cuts and merges results
        across ranks assuming so): per probe its sampling, reference,
        reading and whether the answer was a plain yes or no.
        """
        for sample in data_samples:
            probes = []
            self.results.append(probes)
            questions = questions_of(sample)
            types = text_field(sample, 'question_types')
            asked = [j for j, t in enumerate(types)
                     if t and t.startswith(self.type_prefix)]
            if not asked:
                continue
            preds = sample.get('pred_answers')
            if preds is None or len(preds) != len(questions):
                raise ValueError(
                    f'sample img_id={sample.get("img_id")!r} has '
                    f'{len(questions)} questions but pred_answers={preds!r}')
            refs = answers_of(sample)
            for j in asked:
                label = normalize_answer(refs[j][0]) if refs[j] else None
                if label not in ('yes', 'no'):
                    raise ValueError(
                        f'sample img_id={sample.get("img_id")!r}: POPE '
                        f'question {questions[j]!r} needs the reference '
                        f'yes or no, got {refs[j]!r}')
                probes.append(
                    dict(sampling=types[j][len(self.type_prefix):],
                         label=label == 'yes',
                         pred=pope_answer(preds[j]) == 'yes',
                         clear=is_yes_or_no(preds[j])))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """The scores of each sampling ({} if nothing was scored)."""
        by_sampling = defaultdict(list)
        for probes in results:
            for probe in probes:
                by_sampling[probe['sampling']].append(probe)
        logger = MMLogger.get_current_instance()
        if not by_sampling:
            logger.warning(f'{type(self).__name__}: no question of a type '
                           f'{self.type_prefix}* to evaluate')
            return {}
        metrics = {}
        for sampling in sorted(by_sampling):
            probes = by_sampling[sampling]
            scores = binary_scores([p['label'] for p in probes],
                                   [p['pred'] for p in probes])
            scores['num_questions'] = len(probes)
            scores['num_unclear'] = sum(not p['clear'] for p in probes)
            if scores['num_unclear']:
                logger.warning(
                    f'{type(self).__name__}: {scores["num_unclear"]} of '
                    f'{len(probes)} {sampling} answers were neither yes nor '
                    'no (read as POPE reads them: "no" only with the word '
                    'no/not, else "yes")')
            metrics.update(
                {f'{sampling}_{k}': v for k, v in scores.items()})
        return metrics
