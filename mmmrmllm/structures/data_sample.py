"""The data sample that carries one image between data, model and metrics.

The contract (field names, types, defaults) is documented in
``docs/contracts.md``; this module is its code. Each field has exactly one
default, given here:

- ``has_det_ann`` (metainfo): the explicit flag when a dataset set it, else
  whether the sample carries ground-truth boxes at all (``gt_instances``
  on a packed sample, ``instances`` on a record or a metric's sample dict,
  ``gt_bboxes`` on a pipeline's results). An *empty* box list set by a
  dataset is an annotated negative; the flag is how a dataset says "never
  box-annotated".
- ``questions``, ``gt_answers``, ``question_types``, ``question_ids``,
  ``pred_answers``: empty lists.

Readers take any of the places a sample lives (an
:class:`MRMLLMDataSample`, a plain mmdet ``DetDataSample``, the dict
MMEngine's evaluator makes with ``to_dict()``, a pipeline's results dict),
so the accessor functions below are what models, transforms and metrics
call; the class's properties are the same accessors on the object.
"""
from typing import Any, List, Optional, Sequence

from mmdet.structures import DetDataSample

TEXT_FIELDS = ('questions', 'gt_answers', 'question_types', 'question_ids')
# where ground-truth boxes live: packed sample, record / metric dict,
# pipeline results after LoadAnnotations
_BOX_KEYS = ('gt_instances', 'instances', 'gt_bboxes')


def has_det_ann(sample: Any) -> bool:
    """Whether the sample's boxes were annotated (an empty set counts).

    Args:
        sample: A data sample, a record / results dict or a metric's
            sample dict.

    Returns:
        bool: The explicit ``has_det_ann`` flag, else whether any
        ground-truth boxes field is present.
    """
    flag = sample.get('has_det_ann', None)
    if flag is not None:
        return bool(flag)
    return any(key in sample for key in _BOX_KEYS)


def text_field(sample: Any, key: str) -> list:
    """One of the text fields as a list (empty when absent)."""
    return list(sample.get(key, None) or [])


def questions_of(sample: Any) -> List[str]:
    """The sample's questions (``[]`` when it has none)."""
    return text_field(sample, 'questions')


def answers_of(sample: Any) -> List[List[str]]:
    """All reference answers per question (``[]`` when none)."""
    return text_field(sample, 'gt_answers')


def sample_name(sample: Any, index: Optional[int] = None) -> str:
    """A readable id of a sample for error messages (its image path or
    id, else its position in the batch)."""
    meta = sample.metainfo if hasattr(sample, 'metainfo') else sample
    for key in ('img_path', 'img_id'):
        if meta.get(key) is not None:
            return f'{key}={meta[key]}'
    return f'#{index} of the batch' if index is not None else 'a sample'


def sample_problem(annotated: bool, questions: Sequence,
                   answers: Optional[Sequence]) -> Optional[str]:
    """What makes a sample unusable for training, or None.

    A sample needs box annotations or questions, and as many answer lists
    as questions when it has answers at all.

    Args:
        annotated (bool): :func:`has_det_ann` of the sample.
        questions (Sequence): Its questions.
        answers (Sequence, optional): Its answer lists (None: not given).
    """
    if not annotated and not questions:
        return ('has neither box annotations (has_det_ann=False) nor '
                'questions')
    if questions and answers is not None and len(answers) != len(
            questions):
        return (f'has {len(questions)} questions but {len(answers)} '
                'answer lists')
    return None


def _text_property(key: str, doc: str) -> property:

    def getter(self):
        return self.get('_' + key, None) or []

    def setter(self, value):
        self.set_field(list(value), '_' + key, dtype=list)

    def deleter(self):
        delattr(self, '_' + key)

    return property(getter, setter, deleter, doc)


class MRMLLMDataSample(DetDataSample):
    """mmdet's ``DetDataSample`` plus the question-answering fields.

    Data fields (lists, ``[]`` by default): ``questions`` (str per
    question), ``gt_answers`` (reference answers per question),
    ``question_types`` (str per question, ``''`` unknown),
    ``question_ids`` (ids for result files), ``pred_answers`` (one answer
    per question). Metainfo ``has_det_ann`` (see :func:`has_det_ann`).
    Everything of ``DetDataSample`` (``gt_instances``, ``pred_instances``,
    ...) is unchanged.

    Examples:
        >>> s = MRMLLMDataSample(metainfo=dict(has_det_ann=False))
        >>> s.questions = ['how many squares?']
        >>> s.questions, s.gt_answers, s.has_det_ann
        (['how many squares?'], [], False)
    """

    questions = _text_property('questions', 'Questions about the image.')
    gt_answers = _text_property('gt_answers',
                                'All reference answers per question.')
    question_types = _text_property('question_types',
                                    "Type per question (``''``: unknown).")
    question_ids = _text_property('question_ids', 'Id per question.')
    pred_answers = _text_property('pred_answers',
                                  'One predicted answer per question.')

    @property
    def has_det_ann(self) -> bool:
        """Whether the boxes were annotated (:func:`has_det_ann`)."""
        if '_has_det_ann_flag' in self.__dict__:
            return self.__dict__['_has_det_ann_flag']
        return any(key in self for key in _BOX_KEYS)

    @has_det_ann.setter
    def has_det_ann(self, value: bool) -> None:
        # set_metainfo(dict(has_det_ann=...)) registers the metainfo key
        # and lands here
        object.__setattr__(self, '_has_det_ann_flag', bool(value))
