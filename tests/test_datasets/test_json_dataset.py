import json
import os.path as osp

import pytest

from mmmrmllm.datasets import DataRecordError, MRMLLMJsonDataset

EXAMPLE = osp.join(
    osp.dirname(__file__), '..', '..', 'docs', 'examples',
    'mrmllm_data_example.json')


def build(ann_file, **kwargs):
    kwargs.setdefault('check_images', False)
    return MRMLLMJsonDataset(
        ann_file=str(ann_file), data_prefix=dict(img='imgs/'), pipeline=[],
        **kwargs)


def write(tmp_path, content):
    path = tmp_path / 'data.json'
    path.write_text(json.dumps(content))
    return path


def test_documented_example():
    ds = build(EXAMPLE)
    assert ds.metainfo['classes'] == ('circle', 'square', 'triangle')
    assert len(ds) == 4
    annotated, negative, vqa, llava = (ds.get_data_info(i) for i in range(4))
    assert annotated['has_det_ann'] is True
    assert [i['bbox_label'] for i in annotated['instances']] == [0, 1]
    assert annotated['instances'][1]['corner'] is True
    assert annotated['question_types'] == ['counting', 'relative_position']
    assert annotated['img_path'] == 'imgs/street/0001.jpg'
    assert negative['has_det_ann'] is True and negative['instances'] == []
    assert negative['questions'] == []
    assert vqa['has_det_ann'] is False
    assert vqa['gt_answers'] == [['cat', 'cat', 'kitten']]
    assert llava['questions'] == ['What is the dog doing?']
    assert llava['gt_answers'] == [['It is running.']]
    assert llava['question_ids'] == ['llava-0001_0']
    # records without image_id get ids after the largest given one
    assert {vqa['img_id'], llava['img_id']} == {3, 4}


def test_llava_file_grouped_per_image(tmp_path):
    path = write(tmp_path, [
        dict(id='a', image='x.jpg', conversations=[
            dict(**{'from': 'human', 'value': 'Q1?\n<image>'}),
            dict(**{'from': 'gpt', 'value': 'A1'}),
            dict(**{'from': 'human', 'value': 'Q2?'}),
            dict(**{'from': 'gpt', 'value': 'A2'}),
        ]),
        dict(id='b', image='x.jpg', conversations=[
            dict(**{'from': 'human', 'value': '<image>\nQ3?'}),
            dict(**{'from': 'gpt', 'value': 'A3'}),
        ]),
        dict(id='c', image='y.jpg', conversations=[
            dict(**{'from': 'human', 'value': 'Q4?'}),
            dict(**{'from': 'gpt', 'value': 'A4'}),
        ]),
    ])
    ds = build(path)
    assert len(ds) == 2
    x = ds.get_data_info(0)
    assert x['questions'] == ['Q1?', 'Q2?', 'Q3?']
    assert x['question_ids'] == ['a_0', 'a_1', 'b_0']
    assert x['has_det_ann'] is False


def test_max_questions_per_sample(tmp_path):
    path = write(tmp_path, [
        dict(image='x.jpg', questions=[
            dict(question=f'q{k}', answer='a') for k in range(5)
        ]),
        dict(image='y.jpg', instances=[], questions=[
            dict(question=f'q{k}', answer='a') for k in range(5)
        ]),
    ])
    ds = build(path, max_questions_per_sample=2)
    # the VQA-only image is split, the annotated one is not
    assert [len(ds.get_data_info(i)['questions'])
            for i in range(len(ds))] == [2, 2, 1, 5]


def test_sample_without_boxes_or_questions(tmp_path):
    path = write(tmp_path, [dict(image='x.jpg'), dict(image='y.jpg',
                                                      instances=[])])
    with pytest.raises(DataRecordError, match="data.json: image 'x.jpg'"):
        build(path)
    ds = build(path, skip_invalid=True)
    assert len(ds) == 1 and ds.drop_counts['empty_sample'] == 1


@pytest.mark.parametrize('inst, reason', [
    (dict(bbox=[1, 1, 5, 5], label='hexagon'), 'unknown_category'),
    (dict(bbox=[1, 1, 5, 5], label=7), 'unknown_category'),
    (dict(bbox=[5, 5, 5, 9], label='a'), 'zero_area_box'),
    (dict(bbox=[50, 50, 60, 60], label='a'), 'box_outside_image'),
    (dict(bbox=[1, 1, 5], label='a'), 'malformed_box'),
])
def test_invalid_instances(tmp_path, inst, reason):
    path = write(tmp_path, dict(
        metainfo=dict(classes=['a', 'b']),
        data_list=[dict(image='x.jpg', width=32, height=32,
                        instances=[inst, dict(bbox=[1, 1, 4, 4], label='b')])
                   ]))
    with pytest.raises(DataRecordError, match='instance 0'):
        build(path)
    ds = build(path, skip_invalid=True)
    assert ds.drop_counts[reason] == 1
    assert len(ds.get_data_info(0)['instances']) == 1


def test_missing_image_and_empty_file(tmp_path):
    path = write(tmp_path, [dict(image='x.jpg', questions=[
        dict(question='q', answer='a')])])
    with pytest.raises(DataRecordError, match='x.jpg does not exist'):
        build(path, check_images=True)
    (tmp_path / 'imgs').mkdir()
    (tmp_path / 'imgs' / 'x.jpg').write_bytes(b'')
    ds = MRMLLMJsonDataset(
        ann_file=str(path), data_root=str(tmp_path),
        data_prefix=dict(img='imgs/'), pipeline=[])
    assert len(ds) == 1
    empty = tmp_path / 'empty.json'
    empty.write_text('')
    with pytest.raises(DataRecordError, match='empty.json.*empty'):
        build(empty)
    empty.write_text('[]')
    with pytest.raises(DataRecordError, match='no records'):
        build(empty)
