from unittest import mock

import pytest
from mmengine.logging import MMLogger

from mmmrmllm.evaluation import (
    GQAAccuracy,
    VQAAccuracy,
    normalize_answer,
    vqa_score,
)
from mmmrmllm.evaluation.functional import answer_has_type

TEN = ['2'] * 3 + ['3'] * 7


@pytest.mark.parametrize('pred, refs, expected', [
    # official VQAv2: min(1, matches/3) averaged over the 10 leave-one-out
    # subsets; 3 of 10 match: 3 subsets with 2 matches, 7 with 3
    ('2', TEN, (3 * 2 / 3 + 7 * 1) / 10),
    ('3', TEN, 1.0),
    ('4', TEN, 0.0),
    ('1', ['1'] + ['0'] * 9, (1 * 0 + 9 * 1 / 3) / 10),
    ('1', ['1'] * 2 + ['0'] * 8, (2 * 1 / 3 + 8 * 2 / 3) / 10),
    # numbers as words, articles, punctuation, case
    ('two', TEN, 0.9),
    ('Three.', TEN, 1.0),
    ('a dog', ['dog'] * 10, 1.0),
    ('the dog!', ['dog'] * 10, 1.0),
    # one reference: plain exact match after normalisation
    ('Yes.', ['yes'], 1.0),
    ('an apple', ['apple'], 1.0),
    ('apples', ['apple'], 0.0),
    # few references: matching any of them
    ('kitten', ['cat', 'kitten'], 1.0),
])
def test_vqa_score(pred, refs, expected):
    assert vqa_score(pred, refs) == pytest.approx(expected)


def test_normalize_answer():
    assert normalize_answer('Ten') == '10'
    assert normalize_answer('  The red\tball. ') == 'red ball'
    assert normalize_answer('dont') == "don't"
    with pytest.raises(ValueError):
        vqa_score('x', [])


def test_metric_mixed_samples_and_types():
    metric = VQAAccuracy()
    samples = [
        # detection-only sample: skipped
        dict(img_id=1, has_det_ann=True, questions=[]),
        dict(img_id=2, questions=['q1', 'q2', 'q3'],
             gt_answers=[TEN, ['yes'], []],
             question_types=['number', 'yes/no', 'other'],
             pred_answers=['two', 'no', 'whatever']),
        dict(img_id=3, questions=['q4'], gt_answers=[['left']],
             question_types=['relative'], pred_answers=['Left']),
    ]
    metric.process({}, samples)
    result = metric.compute_metrics(metric.results)
    assert result['num_questions'] == 3  # the unanswered one is not scored
    assert result['acc'] == pytest.approx((0.9 + 0 + 1) / 3)
    assert result['acc_number'] == pytest.approx(0.9)
    assert result['acc_yes/no'] == 0
    assert result['acc_relative'] == 1
    assert 'acc_other' not in result


def test_metric_missing_predictions():
    metric = VQAAccuracy()
    with pytest.raises(ValueError, match='img_id=5'):
        metric.process({}, [dict(img_id=5, questions=['q'],
                                 gt_answers=[['a']])])
    assert metric.compute_metrics([]) == {}


def test_gqa_accuracy_is_exact_match():
    # ten references with the prediction among them once: exact match
    # scores 1, the VQAv2 consensus only 0.3
    sample = dict(questions=['a', 'b', 'c'],
                  gt_answers=[['1'] + ['0'] * 9, ['cup'], ['left']],
                  question_types=['verify', 'query', 'query'],
                  pred_answers=['one', 'a cup', 'right'])
    metric = GQAAccuracy()
    metric.process({}, [sample])
    result = metric.compute_metrics(metric.results)
    assert result['acc'] == pytest.approx(2 / 3)
    assert result['acc_verify'] == 1.0
    assert result['acc_query'] == 0.5
    assert result['num_questions'] == 3
    assert metric.default_prefix == 'gqa'
    vqa = VQAAccuracy()
    vqa.process({}, [sample])
    assert vqa.compute_metrics(vqa.results)['acc_verify'] == pytest.approx(
        0.3)


def test_skipped_questions_counted_and_types_default():
    """Questions too long for the LLM (``skipped_questions``) score 0 and
    are counted; an unanswerable one (no references) in between is not
    scored; without question_types there is no per-type key."""
    metric = VQAAccuracy(prefix='v')
    assert metric.prefix == 'v'
    metric.process({}, [
        dict(questions=['a', 'b', 'c', 'd'],
             gt_answers=[['x'], [], ['y'], ['z']],
             pred_answers=['', 'q', '', 'z'], skipped_questions=[0, 2]),
        dict(questions=['e'], gt_answers=[['e']], pred_answers=['e']),
    ])
    assert metric.results[0]['skipped'] == 2
    assert metric.results[1]['skipped'] == 0
    logger = MMLogger.get_current_instance()
    with mock.patch.object(logger, 'warning') as warning:
        result = metric.compute_metrics(metric.results)
    # the skipped questions' '' answers were never generated: not empty
    assert result == dict(acc=0.5, num_questions=4, num_empty=0,
                          num_skipped_too_long=2)
    assert [c.args[0] for c in warning.call_args_list] == [
        'VQAAccuracy: 2 of 4 questions did not fit the LLM context and '
        'were scored 0']
    with mock.patch.object(logger, 'warning') as warning:
        assert GQAAccuracy().compute_metrics([]) == {}
    warning.assert_called_once_with(
        'GQAAccuracy: no answered questions to evaluate')
    # results of an older run without the 'skipped' count still compute
    assert metric.compute_metrics([dict(scores=[1.0], types=[''])]) == dict(
        acc=1.0, num_questions=1, num_empty=0)
    gqa = GQAAccuracy(prefix='g')
    assert gqa.prefix == 'g' and gqa.min_consensus_refs >= 2**31


def test_normalize_whitespace_and_empty_references():
    assert normalize_answer('red\nball') == 'red ball'
    assert normalize_answer('red\tball') == 'red ball'
    with pytest.raises(ValueError, match='^vqa_score needs at least one '
                       'reference answer$'):
        vqa_score('x', [])


def test_answers_of_the_wrong_type_are_counted_per_type():
    metric = VQAAccuracy()
    metric.process({}, [
        dict(img_id=1, questions=['q1', 'q2', 'q3', 'q4', 'q5'],
             gt_answers=[['yes'], ['2'], ['red'], ['square'], ['left']],
             question_types=['existence', 'counting', 'colour',
                             'shape_at_position', 'relative_position'],
             # right type, right type (a number word), a shape to a
             # colour question, a colour to a shape question, nothing
             pred_answers=['Yes', 'two', 'circle', 'red', '']),
        dict(img_id=2, questions=['q6', 'q7', 'q8', 'q9'],
             gt_answers=[['3'], ['no'], ['x'], ['blue']],
             question_types=['counting', 'existence', 'other', 'colour'],
             # right type but wrong; a colour to a yes/no question; an
             # unknown type is not judged; a colour outside the common four
             pred_answers=['3 ', 'blue', 'anything', 'Pink.']),
    ])
    result = metric.compute_metrics(metric.results)
    assert result['num_questions'] == 9
    assert result['acc'] == pytest.approx(3 / 9)
    assert result['num_empty'] == 1
    assert result['type_mismatch'] == 4
    assert {k: v for k, v in result.items()
            if k.startswith('type_mismatch_')} == dict(
                type_mismatch_colour=1, type_mismatch_counting=0,
                type_mismatch_existence=1,
                type_mismatch_relative_position=1,
                type_mismatch_shape_at_position=1)
    # each sample's result: the types of its mismatched answers
    assert metric.results[0]['mismatched'] == [
        'colour', 'shape_at_position', 'relative_position']
    # other datasets: their own answer kinds, or none judged
    samples = [dict(questions=['a', 'b'], gt_answers=[['x'], ['2']],
                    question_types=['other', 'counting'],
                    pred_answers=['z', 'red'])]
    own = VQAAccuracy(answer_types=dict(other=['x', 'y']))
    own.process({}, samples)
    out = own.compute_metrics(own.results)
    assert out['type_mismatch'] == 1 and out['type_mismatch_other'] == 1
    assert 'type_mismatch_counting' not in out
    none = VQAAccuracy(answer_types={})
    none.process({}, samples)
    assert not any(k.startswith('type_mismatch')
                   for k in none.compute_metrics(none.results))
    with pytest.raises(ValueError, match="answer_types\\['c'\\]"):
        VQAAccuracy(answer_types=dict(c='numbers'))


@pytest.mark.parametrize('answer, kind, expected', [
    ('2', 'number', True), ('Two.', 'number', True), ('two circles',
                                                      'number', False),
    ('', 'number', False), ('Yes', ('yes', 'no'), True),
    ('yes, a red one', ('yes', 'no'), False), ('', ('yes', 'no'), False),
])
def test_answer_has_type(answer, kind, expected):
    assert answer_has_type(answer, kind) is expected
