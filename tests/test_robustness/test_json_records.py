"""Wrong types and duplicates in the documented JSON format (issue 11).

Each case is refused with a message naming the file and the record, and,
with ``skip_invalid=True``, skipped and counted under a named reason while
the good record stays.
"""
import json

import pytest

from mmmrmllm.datasets import DataRecordError, MRMLLMJsonDataset

GOOD = dict(image='good.jpg', image_id=1, width=32, height=32,
            questions=[dict(id='g0', question='how many?', answer='1')],
            instances=[dict(bbox=[1, 1, 5, 5], label='a')])


def build(path, **kwargs):
    return MRMLLMJsonDataset(ann_file=str(path), check_images=False,
                             pipeline=[], **kwargs)


def write(tmp_path, records, name='data.json'):
    path = tmp_path / name
    path.write_text(json.dumps(dict(metainfo=dict(classes=['a', 'b']),
                                    data_list=records)))
    return path


def q(text, **kw):
    return dict(image='x.jpg', image_id=2,
                questions=[dict(question=text, answer='yes', **kw)])


CASES = {
    'question_is_a_number': (q(5), 'malformed_question', 'question'),
    'question_is_a_list': (q(['what?']), 'malformed_question', 'question'),
    'question_is_empty': (q('  '), 'malformed_question', 'question'),
    'question_type_not_a_string': (q('what?', type=3), 'malformed_question',
                                   'type'),
    'question_id_is_a_list': (q('what?', id=[1]), 'malformed_question',
                              'question id'),
    'answers_not_strings': (dict(image='x.jpg', image_id=2, questions=[
        dict(question='what?', answers=[1, 2])]), 'malformed_question',
        'answers'),
    'questions_not_a_list': (dict(image='x.jpg', image_id=2,
                                  questions='what?'),
                             'malformed_question', 'must be a list'),
    'conversation_value_null': (dict(image='x.jpg', image_id=2,
                                     conversations=[
                                         dict(value=None),
                                         dict(value='yes')]),
                                'malformed_question', 'no text value'),
    'conversations_not_a_list': (dict(image='x.jpg', image_id=2,
                                      conversations='hi'),
                                 'malformed_question', 'list of turns'),
    'label_is_a_boolean': (dict(image='x.jpg', image_id=2, instances=[
        dict(bbox=[1, 1, 5, 5], label=True)]), 'unknown_category', 'True'),
    'box_with_string_coordinates': (dict(image='x.jpg', image_id=2,
                                         instances=[dict(
                                             bbox=['1', 1, 5, 5],
                                             label='a')]),
                                    'malformed_box', 'finite numbers'),
    'box_not_finite': (dict(image='x.jpg', image_id=2, instances=[
        dict(bbox=[1, 1, float('inf'), 5], label='a')]), 'malformed_box',
        'finite numbers'),
    'instance_not_an_object': (dict(image='x.jpg', image_id=2,
                                    instances=[[1, 1, 5, 5]]),
                               'malformed_box', 'object'),
    'width_is_a_string': (dict(q('what?'), width='128', height=32),
                          'bad_image_size', 'width'),
    'height_is_zero': (dict(q('what?'), width=32, height=0),
                       'bad_image_size', 'height'),
    'has_det_ann_not_a_bool': (dict(q('what?'), has_det_ann='yes'),
                               'malformed_record', 'has_det_ann'),
    'instances_not_a_list': (dict(image='x.jpg', image_id=2,
                                  instances=dict(bbox=[1, 1, 5, 5])),
                             'malformed_record', 'instances'),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_wrong_type_refused_or_counted(tmp_path, case):
    record, reason, needle = CASES[case]
    path = write(tmp_path, [GOOD, record])
    with pytest.raises(DataRecordError) as err:
        build(path)
    msg = str(err.value)
    assert 'data.json' in msg and 'image 2' in msg, msg
    assert needle in msg, msg
    ds = build(path, skip_invalid=True)
    assert ds.drop_counts[reason] == 1, dict(ds.drop_counts)
    if 'instances' in record and reason != 'malformed_record':
        # a bad box is skipped, its image stays (like mmdet's COCO)
        assert len(ds) == 2 and ds.get_data_info(1)['instances'] == []
    else:
        assert len(ds) == 1 and ds.get_data_info(0)['img_id'] == 1


def test_same_image_id_with_two_images_is_not_merged(tmp_path):
    other = dict(GOOD, image='other.jpg', instances=None)
    other.pop('instances')
    other['questions'] = [dict(id='o0', question='what?', answer='x')]
    third = dict(image='z.jpg', image_id=5,
                 questions=[dict(id='z0', question='what?', answer='x')])
    path = write(tmp_path, [GOOD, other, third])
    with pytest.raises(DataRecordError, match=r'image 1.*different images'):
        build(path)
    ds = build(path, skip_invalid=True)
    assert len(ds) == 1 and ds.drop_counts['duplicate_image_id'] == 1
    assert ds.get_data_info(0)['img_id'] == 5


def test_boxes_given_twice_for_one_image(tmp_path):
    twice = dict(GOOD, questions=[dict(id='t0', question='q?', answer='a')])
    path = write(tmp_path, [GOOD, twice])
    with pytest.raises(DataRecordError, match='give its boxes once'):
        build(path)


def test_records_of_one_image_are_merged(tmp_path):
    # the LLaVA case: several records of one image, boxes given once
    more = dict(image='good.jpg', image_id=1,
                questions=[dict(id='g1', question='what?', answer='a')])
    ds = build(write(tmp_path, [GOOD, more]))
    assert len(ds) == 1
    assert ds.get_data_info(0)['question_ids'] == ['g0', 'g1']


def test_duplicate_question_ids(tmp_path):
    dup = dict(image='y.jpg', image_id=3,
               questions=[dict(id='g0', question='what?', answer='a')])
    path = write(tmp_path, [GOOD, dup])
    with pytest.raises(DataRecordError, match="question id 'g0'"):
        build(path)
    ds = build(path, skip_invalid=True)
    assert len(ds) == 1 and ds.drop_counts['duplicate_question_id'] == 1


@pytest.mark.parametrize('content, needle', [
    ('[{"image": "x.jpg",}]', 'not valid JSON (line 1'),
    (b'\x80\x04\x95pickle', 'not UTF-8'),
    ('[5]', 'record 0 must be an object'),
    ('[{"image": "x.jpg", "image_id": [1]}]', '"image_id" must be'),
    ('"a string"', 'expected a list or a dict'),
])
def test_malformed_file_names_the_file(tmp_path, content, needle):
    path = tmp_path / 'ann.json'
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(DataRecordError, match='ann.json') as err:
        build(path)
    assert needle in str(err.value)
