import json

import pytest

from mmmrmllm.datasets import DataRecordError, GQADataset, VQAv2Dataset


def make_vqav2(root, with_missing=False):
    (root / 'val2014').mkdir()
    for image_id in (1, 2):
        (root / 'val2014' / f'COCO_val2014_{image_id:012d}.jpg').write_bytes(
            b'')
    image_ids = [1, 1, 2] + ([3] if with_missing else [])
    questions = [
        dict(image_id=i, question=f'q{k}?', question_id=100 + k)
        for k, i in enumerate(image_ids)
    ]
    answers = ['2'] * 3 + ['3'] * 7
    anns = [
        dict(question_id=100 + k, image_id=i, answer_type='number',
             question_type='how many',
             answers=[dict(answer=a, answer_id=j + 1)
                      for j, a in enumerate(answers)])
        for k, i in enumerate(image_ids)
    ]
    (root / 'q.json').write_text(json.dumps(dict(questions=questions)))
    (root / 'a.json').write_text(json.dumps(dict(annotations=anns)))


def test_vqav2_grouped_per_image(tmp_path):
    make_vqav2(tmp_path)
    ds = VQAv2Dataset(
        data_root=str(tmp_path), data_prefix='val2014',
        question_file='q.json', ann_file='a.json', pipeline=[])
    assert len(ds) == 2
    first = ds.get_data_info(0)
    assert first['img_id'] == 1
    assert first['has_det_ann'] is False and first['instances'] == []
    assert first['questions'] == ['q0?', 'q1?']
    assert first['question_ids'] == [100, 101]
    assert len(first['gt_answers'][0]) == 10
    assert first['question_types'] == ['number', 'number']
    assert first['img_path'].endswith('COCO_val2014_000000000001.jpg')
    split = VQAv2Dataset(
        data_root=str(tmp_path), data_prefix='val2014',
        question_file='q.json', ann_file='a.json', pipeline=[],
        max_questions_per_sample=1)
    assert len(split) == 3
    assert split.get_data_info(1)['question_ids'] == [101]


def test_vqav2_question_for_missing_image(tmp_path):
    make_vqav2(tmp_path, with_missing=True)
    kwargs = dict(data_root=str(tmp_path), data_prefix='val2014',
                  question_file='q.json', ann_file='a.json', pipeline=[])
    with pytest.raises(DataRecordError, match='question 103 .image 3.'):
        VQAv2Dataset(**kwargs)
    ds = VQAv2Dataset(skip_invalid=True, **kwargs)
    assert ds.drop_counts['question_unknown_image'] == 1
    assert len(ds) == 2


def test_gqa_formats(tmp_path):
    lavis = [
        dict(image='n1.jpg', question='Is it red?', answer='yes',
             question_id='q1'),
        dict(image='n1.jpg', question='What is it?', answer='a cup',
             question_id='q2'),
        dict(image='n2.jpg', question='Left or right?', answer='left'),
    ]
    (tmp_path / 'lavis.json').write_text(json.dumps(lavis))
    ds = GQADataset(data_root=str(tmp_path), data_prefix='images',
                    ann_file='lavis.json', pipeline=[])
    assert len(ds) == 2
    assert ds.get_data_info(0)['question_ids'] == ['q1', 'q2']
    assert ds.get_data_info(0)['gt_answers'] == [['yes'], ['a cup']]
    official = {
        'q1': dict(imageId='n1', question='Is it red?', answer='yes',
                   types=dict(structural='verify', semantic='attr')),
        'q2': dict(imageId='n2', question='What?', answer='cup',
                   types=dict(structural='query', semantic='cat')),
    }
    (tmp_path / 'official.json').write_text(json.dumps(official))
    ds = GQADataset(data_root=str(tmp_path), data_prefix='images',
                    ann_file='official.json', pipeline=[])
    assert ds.get_data_info(0)['question_types'] == ['verify']
    assert ds.get_data_info(1)['img_path'].endswith('images/n2.jpg')
