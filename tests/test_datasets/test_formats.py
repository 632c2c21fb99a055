"""datasets/formats.py: each accepted spelling of the documented format,
the ids it makes up, and the exact message of each refusal."""
import json

import pytest

from mmmrmllm.datasets.formats import (
    FormatError,
    conversations_to_questions,
    group_by_image,
    load_json,
    load_records,
    parse_question_entry,
    record_image_key,
    record_questions,
    text_fields,
)


def test_conversation_spellings_and_ids():
    turns = [dict(role='user', content='<image>\nHow many?'),
             dict(role='assistant', content=' two '),
             dict(**{'from': 'human', 'value': 'Colour?'}),
             dict(**{'from': 'gpt', 'value': 'red'})]
    assert conversations_to_questions(turns, 'r7') == [
        dict(id='r7_0', question='How many?', answers=['two'], type=''),
        dict(id='r7_1', question='Colour?', answers=['red'], type='')]
    assert [q['id'] for q in conversations_to_questions(turns)] == [None,
                                                                    None]


@pytest.mark.parametrize('turns, message', [
    ('hi', "record 'r': \"conversations\" must be a list of turns, got str"),
    (['hi'], "record 'r': turn 0 must be an object, got 'hi'"),
    ([dict(role='user', content=3)],
     "record 'r': turn 0 ('user') has no text value, got 3"),
    ([dict(role='user', content='a'), dict(role='user', content='b')],
     "record 'r': two human turns in a row"),
    ([dict(role='assistant', content='a')],
     "record 'r': an assistant turn without a human turn before it"),
    ([dict(role='system', content='a')], "record 'r': unknown role 'system'"),
    ([dict(role='user', content='a')],
     "record 'r': the last human turn has no answer"),
])
def test_conversation_refusals(turns, message):
    with pytest.raises(FormatError) as err:
        conversations_to_questions(turns, 'r')
    assert str(err.value) == message


def test_question_entry_spellings():
    assert parse_question_entry(
        dict(question='q?', answer='a', question_type='count',
             question_id=4), 'rec') == dict(id=4, question='q?',
                                            answers=['a'], type='count')
    assert parse_question_entry(
        dict(question='q?', answers=('a', 'b'), type='t', id='x',
             question_type='ignored', answer='ignored'), 'rec') == dict(
                 id='x', question='q?', answers=['a', 'b'], type='t')
    assert parse_question_entry(dict(question='q?', type=None), 'rec') == \
        dict(id=None, question='q?', answers=[], type='')


@pytest.mark.parametrize('entry, message', [
    (dict(question=' '), 'rec: a question entry needs a non-empty '
     "\"question\" string, got {'question': ' '}"),
    (dict(question='q', answers=[1]),
     'rec: "answers" must be a string or a list of strings, got [1]'),
    (dict(question='q', type=3), 'rec: a question "type" must be a string, '
     'got 3'),
    (dict(question='q', id=True), 'rec: a question id must be an integer or '
     'a string, got True'),
])
def test_question_entry_refusals(entry, message):
    with pytest.raises(FormatError) as err:
        parse_question_entry(entry, 'rec')
    assert str(err.value) == message


def test_record_questions_ids_and_fields():
    raw = dict(image_id=9, id='c1',
               questions=[dict(question='a?', answers=['x']),
                          dict(question='b?', id='mine')],
               conversations=[dict(role='user', content='c?'),
                              dict(role='assistant', content='z')])
    questions = record_questions(raw, 'rec')
    assert [q['id'] for q in questions] == ['9_0', 'mine', 'c1_0']
    assert text_fields(questions) == dict(
        questions=['a?', 'b?', 'c?'], gt_answers=[['x'], [], ['z']],
        question_types=['', '', ''], question_ids=['9_0', 'mine', 'c1_0'])
    # without an id, the conversation's ids come from the image id; without
    # either, from the image path
    raw = dict(image='p.jpg', questions=[dict(question='a?')],
               conversations=[dict(role='user', content='c?'),
                              dict(role='assistant', content='z')])
    assert [q['id'] for q in record_questions(raw, 'rec')] == [
        'p.jpg_0', 'p.jpg_1']
    raw = dict(image_id=5, conversations=[dict(role='user', content='c?'),
                                          dict(role='assistant', content='z')])
    assert [q['id'] for q in record_questions(raw, 'rec')] == ['5_0']
    with pytest.raises(FormatError) as err:
        record_questions(dict(questions='q?'), 'rec')
    assert str(err.value) == 'rec: "questions" must be a list, got str'


def test_image_keys_and_groups():
    assert record_image_key(dict(image_id=0, image='a.jpg')) == 0
    assert record_image_key(dict(image_id=None, image='a.jpg')) == 'a.jpg'
    with pytest.raises(FormatError) as err:
        record_image_key(dict(id=3, image_id=[1]))
    assert str(err.value) == ('record 3: "image_id" must be an integer or a '
                              'string, got [1]')
    with pytest.raises(FormatError) as err:
        record_image_key(dict(id=3, image=''))
    assert str(err.value) == 'record 3 names no image ("image" or "image_id")'
    records = [dict(image='b'), dict(image_id=1), dict(image='b', n=2)]
    groups = group_by_image(records)
    assert list(groups) == ['b', 1]
    assert groups['b'] == [records[0], records[2]]
    with pytest.raises(FormatError) as err:
        group_by_image([dict(image='a'), 7])
    assert str(err.value) == 'record 1 must be an object, got 7'


def test_files(tmp_path):
    path = tmp_path / 'a.json'
    with pytest.raises(FileNotFoundError) as err:
        load_json(str(path), 'question file')
    assert str(err.value) == f'question file {path} does not exist'
    path.write_text('')
    with pytest.raises(FormatError) as err:
        load_json(str(path))
    assert str(err.value) == f'{path}: the annotation file is empty'
    path.write_text('{"a": ]')
    with pytest.raises(FormatError) as err:
        load_json(str(path), 'question file')
    assert str(err.value) == (f'{path}: the question file is not valid JSON '
                              '(line 1, column 7: Expecting value)')
    path.write_bytes(b'["\xff"]')
    with pytest.raises(FormatError) as err:
        load_json(str(path))
    assert str(err.value) == (f'{path}: the annotation file is not UTF-8 '
                              'text (byte 2); only JSON is read')
    path.write_text(json.dumps(['é']), encoding='utf-8')
    assert load_json(str(path)) == ['é']
    # the documented dict, a plain list, and the refusals
    path.write_text(json.dumps(dict(metainfo=None, data_list=[dict(a=1)])))
    assert load_records(str(path)) == ({}, [dict(a=1)])
    path.write_text(json.dumps(dict(data_list=[dict(a=1)])))
    assert load_records(str(path)) == ({}, [dict(a=1)])
    path.write_text(json.dumps([dict(a=1)]))
    assert load_records(str(path)) == ({}, [dict(a=1)])
    for content, message in [
            (dict(records=[], b=1), 'expected a list of records or a dict '
             "with \"data_list\", got keys ['b', 'records']"),
            (3, 'expected a list or a dict, got int'),
            ([], 'the annotation file has no records')]:
        path.write_text(json.dumps(content))
        with pytest.raises(FormatError) as err:
            load_records(str(path))
        assert str(err.value) == f'{path}: {message}'
