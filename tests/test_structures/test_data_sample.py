"""The sample contract in code: one default per field, every reader agrees."""
import pickle

import torch
from mmdet.structures import DetDataSample
from mmengine.dataset import pseudo_collate
from mmengine.structures import InstanceData

from mmmrmllm.structures import (
    MRMLLMDataSample,
    answers_of,
    has_det_ann,
    questions_of,
    sample_name,
    sample_problem,
)


def test_text_fields_default_to_empty_lists_and_round_trip():
    s = MRMLLMDataSample(metainfo=dict(img_id=7))
    assert (s.questions, s.gt_answers, s.question_types, s.question_ids,
            s.pred_answers) == ([], [], [], [], [])
    s.questions = ('how many squares?', )  # any sequence, stored as a list
    s.gt_answers = [['2', 'two']]
    assert s.questions == ['how many squares?']
    assert questions_of(s) == ['how many squares?']
    assert answers_of(s) == [['2', 'two']]
    # the keys are the public names, as with mmdet's gt_instances
    assert sorted(s.keys()) == ['gt_answers', 'questions']
    assert s.to_dict()['questions'] == ['how many squares?']
    for copy in (pickle.loads(pickle.dumps(s)), s.clone(),
                 pseudo_collate([s])[0]):
        assert copy.questions == ['how many squares?']
        assert copy.metainfo == {'img_id': 7}
    del s.questions
    assert s.questions == []


def test_has_det_ann_one_default_for_every_form_of_a_sample():
    """Explicit flag first; else: are ground-truth boxes present at all.
    The same answer for the data sample, a plain mmdet DetDataSample, a
    metric's sample dict, a record and a pipeline's results."""
    boxes = InstanceData(bboxes=torch.zeros((0, 4)),
                         labels=torch.zeros((0, ), dtype=torch.long))
    plain = DetDataSample()
    ours = MRMLLMDataSample()
    assert not has_det_ann(plain) and not ours.has_det_ann
    plain.gt_instances = boxes
    ours.gt_instances = boxes
    # an empty box set is an annotated negative
    assert has_det_ann(plain) and ours.has_det_ann and has_det_ann(ours)
    ours.set_metainfo(dict(has_det_ann=False))
    assert not ours.has_det_ann and not has_det_ann(ours)
    assert ours.metainfo['has_det_ann'] is False
    assert not has_det_ann(ours.to_dict())
    assert has_det_ann(dict(instances=[]))  # a record / metric dict
    assert has_det_ann(dict(gt_bboxes=None))  # results after LoadAnnotations
    assert not has_det_ann(dict(questions=['q']))
    assert not has_det_ann(dict(instances=[], has_det_ann=False))


def test_sample_problem_and_name():
    assert sample_problem(True, [], None) is None
    assert sample_problem(False, ['q'], [['a']]) is None
    assert sample_problem(False, [], None) == (
        'has neither box annotations (has_det_ann=False) nor questions')
    assert sample_problem(False, [], [['a']]) is not None
    assert sample_problem(True, ['q1', 'q2'], [['a']]) == \
        'has 2 questions but 1 answer lists'
    s = MRMLLMDataSample(metainfo=dict(img_path='a.jpg', img_id=3))
    assert sample_name(s, 0) == 'img_path=a.jpg'
    assert sample_name(dict(img_id=3)) == 'img_id=3'
    assert sample_name(MRMLLMDataSample(), 4) == '#4 of the batch'
    assert sample_name(MRMLLMDataSample(), 0) == '#0 of the batch'
    assert sample_name(dict(img_path=None)) == 'a sample'
