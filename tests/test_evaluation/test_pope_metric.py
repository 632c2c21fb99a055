"""POPEMetric against scores worked out by hand, answers read as POPE's
reference evaluate.py reads them."""
import pytest

from mmmrmllm.evaluation import POPEMetric, pope_answer
from mmmrmllm.evaluation.functional import binary_scores, is_yes_or_no


@pytest.mark.parametrize('text, expected', [
    ('yes', 'yes'), ('Yes.', 'yes'), ('no', 'no'), ('No', 'no'),
    ('No, there is not.', 'no'), ('no.', 'no'),
    ('There is not a cat', 'no'),
    # only the first sentence counts
    ('Yes. No.', 'yes'),
    # neither yes nor no: read as yes, POPE's rule (the words no/not
    # only; "Not" capitalised is not one of them)
    ('circle', 'yes'), ('', 'yes'), ('Not sure', 'yes'), ('nope', 'yes'),
])
def test_pope_answer(text, expected):
    assert pope_answer(text) == expected


def test_is_yes_or_no():
    assert is_yes_or_no('Yes, there is.') and is_yes_or_no(' no')
    assert not is_yes_or_no('circle') and not is_yes_or_no('')
    assert not is_yes_or_no('There is no cat')


def test_binary_scores_without_positives():
    scores = binary_scores([False, False], [False, False])
    assert scores == dict(acc=1.0, precision=0.0, recall=0.0, f1=0.0,
                          yes_ratio=0.0)
    with pytest.raises(ValueError):
        binary_scores([True], [])


def samples():
    return [
        # a detection-only sample: skipped
        dict(img_id=1, has_det_ann=True, questions=[]),
        # random: TP, TN, FN, FP
        dict(img_id=2,
             questions=['q1', 'q2', 'q3', 'q4'],
             gt_answers=[['yes'], ['no'], ['yes'], ['no']],
             question_types=['pope_random'] * 4,
             pred_answers=['Yes', 'no', 'No.', 'Yes, there is one.']),
        # adversarial: TP, TP (an unclear "circle" read as yes), TN (an
        # unclear sentence with "not"), FP, TN; and a VQA question, ignored
        dict(img_id=3,
             questions=['q5', 'q6', 'q7', 'q8', 'q9', 'colour?'],
             gt_answers=[['yes'], ['yes'], ['no'], ['no'], ['No'],
                         ['red']],
             question_types=['pope_adversarial'] * 5 + ['colour'],
             pred_answers=['yes', 'circle', 'There is not a circle', 'yes',
                           'no', 'blue']),
    ]


def test_metric_by_hand():
    metric = POPEMetric()
    metric.process({}, samples())
    got = metric.evaluate(3)
    expected = {
        'random_acc': 0.5, 'random_precision': 0.5, 'random_recall': 0.5,
        'random_f1': 0.5, 'random_yes_ratio': 0.5,
        'random_num_questions': 4, 'random_num_unclear': 0,
        # TP 2, FP 1, TN 2, FN 0
        'adversarial_acc': 4 / 5, 'adversarial_precision': 2 / 3,
        'adversarial_recall': 1.0, 'adversarial_f1': 0.8,
        'adversarial_yes_ratio': 3 / 5,
        'adversarial_num_questions': 5, 'adversarial_num_unclear': 2,
    }
    assert got.keys() == {f'pope/{k}' for k in expected}
    for key, value in expected.items():
        assert got[f'pope/{key}'] == pytest.approx(value), key


def test_metric_refuses_and_skips():
    metric = POPEMetric()
    bad = dict(img_id=4, questions=['q'], gt_answers=[['maybe']],
               question_types=['pope_popular'], pred_answers=['yes'])
    with pytest.raises(ValueError, match='yes or no'):
        metric.process({}, [bad])
    with pytest.raises(ValueError, match='pred_answers'):
        metric.process({}, [dict(bad, gt_answers=[['yes']],
                                 pred_answers=[])])
    # nothing of a POPE type: nothing to report
    metric = POPEMetric()
    metric.process({}, [dict(img_id=5, questions=['q'],
                             gt_answers=[['yes']],
                             question_types=['existence'],
                             pred_answers=['yes'])])
    assert metric.compute_metrics(metric.results) == {}
