import importlib.util
import json
import os.path as osp
import sys

import pytest

from mmmrmllm.datasets import MRMLLMCocoDataset, MRMLLMJsonDataset

TOOLS = osp.join(osp.dirname(__file__), '..', '..', 'tools')


def load_tool(relpath):
    name = osp.splitext(osp.basename(relpath))[0]
    spec = importlib.util.spec_from_file_location(name,
                                                  osp.join(TOOLS, relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_back(path):
    return MRMLLMJsonDataset(ann_file=str(path), check_images=False,
                             pipeline=[])


def test_vqav2(tmp_path):
    tool = load_tool('dataset_converters/vqav2_to_mrmllm.py')
    (tmp_path / 'q.json').write_text(json.dumps(dict(questions=[
        dict(image_id=9, question='How many?', question_id=90),
        dict(image_id=9, question='What colour?', question_id=91),
        dict(image_id=4, question='Is it?', question_id=40),
    ])))
    (tmp_path / 'a.json').write_text(json.dumps(dict(annotations=[
        dict(question_id=qid, image_id=img, answer_type=t,
             answers=[dict(answer=a, answer_id=k + 1)
                      for k, a in enumerate([ans] * 10)])
        for qid, img, t, ans in [(90, 9, 'number', '2'),
                                 (91, 9, 'other', 'red'),
                                 (40, 4, 'yes/no', 'yes')]
    ])))
    out = tmp_path / 'out.json'
    counts = tool.convert_vqav2(
        str(tmp_path / 'q.json'), str(out), str(tmp_path / 'a.json'),
        'val2014/COCO_val2014_{image_id:012d}.jpg')
    assert counts == dict(images=2, questions=3, skipped=0)
    ds = read_back(out)
    first = ds.get_data_info(0)
    assert first['img_id'] == 9
    assert first['img_path'] == 'val2014/COCO_val2014_000000000009.jpg'
    assert first['question_ids'] == [90, 91]
    assert first['gt_answers'][0] == ['2'] * 10
    assert first['question_types'] == ['number', 'other']
    assert first['has_det_ann'] is False
    # test split: no annotations, no answers
    tool.convert_vqav2(str(tmp_path / 'q.json'), str(out))
    assert read_back(out).get_data_info(1)['gt_answers'] == [[]]


def test_gqa(tmp_path):
    tool = load_tool('dataset_converters/gqa_to_mrmllm.py')
    (tmp_path / 'g.json').write_text(json.dumps({
        '201': dict(imageId='n5', question='Is the cup red?', answer='no',
                    types=dict(structural='verify')),
        '202': dict(imageId='n5', question='What is it?', answer='cup',
                    types=dict(structural='query')),
    }))
    out = tmp_path / 'out.json'
    assert tool.convert_gqa(str(tmp_path / 'g.json'), str(out),
                            'images/{image}') == dict(images=1, questions=2,
                                                    skipped=0)
    sample = read_back(out).get_data_info(0)
    assert sample['img_path'] == 'images/n5.jpg'
    assert sample['question_types'] == ['verify', 'query']
    assert sample['question_ids'] == ['201', '202']
    assert sample['gt_answers'] == [['no'], ['cup']]


def test_llava(tmp_path):
    tool = load_tool('dataset_converters/llava_to_mrmllm.py')
    (tmp_path / 'l.json').write_text(json.dumps([
        dict(id='1', image='coco/1.jpg', conversations=[
            {'from': 'human', 'value': '<image>\nWhat is shown?'},
            {'from': 'gpt', 'value': 'A bus.'},
            {'from': 'human', 'value': 'What colour?'},
            {'from': 'gpt', 'value': 'Red.'},
        ]),
        dict(id='2', conversations=[
            {'from': 'human', 'value': 'Hello?'},
            {'from': 'gpt', 'value': 'Hi.'},
        ]),
        dict(id='3', image='coco/1.jpg', conversations=[
            {'from': 'human', 'value': 'Is it moving?<image>'},
            {'from': 'gpt', 'value': 'Yes.'},
        ]),
    ]))
    out = tmp_path / 'out.json'
    counts = tool.convert_llava(str(tmp_path / 'l.json'), str(out))
    assert counts == dict(images=1, questions=3, skipped_text_only=1,
                          skipped=0)
    sample = read_back(out).get_data_info(0)
    assert sample['questions'] == ['What is shown?', 'What colour?',
                                   'Is it moving?']
    assert sample['question_ids'] == ['1_0', '1_1', '3_0']
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps([dict(image='x.jpg', conversations=[
        {'from': 'human', 'value': 'unanswered?'}])]))
    with pytest.raises(ValueError, match='no answer'):
        tool.convert_llava(str(bad), str(out))


def test_coda(tmp_path):
    tool = load_tool('dataset_converters/coda_to_coco.py')
    coda = dict(
        images=[dict(id=1, file_name='1.jpg', width=100, height=100)],
        categories=[dict(id=1, name='car'), dict(id=2, name='debris')],
        annotations=[
            dict(id=7, image_id=1, category_id=1, bbox=[1, 1, 10, 10]),
            dict(id=7, image_id=1, category_id=2, bbox=[20, 20, 5, 5]),
            dict(id=9, image_id=1, category_id=5, bbox=[20, 20, 5, 5]),
        ])
    (tmp_path / 'c.json').write_text(json.dumps(coda))
    out = tmp_path / 'out.json'
    with pytest.raises(ValueError, match='annotation 9.*unknown category'):
        tool.convert_coda(str(tmp_path / 'c.json'), str(out), ['debris'])
    counts = tool.convert_coda(str(tmp_path / 'c.json'), str(out),
                               ['debris'], drop_invalid=True)
    assert counts == dict(images=1, annotations=2, corner=1, dropped=1)
    ds = MRMLLMCocoDataset(ann_file=str(out), data_prefix=dict(img=''),
                           metainfo=dict(classes=('car', 'debris')),
                           pipeline=[])
    instances = ds.get_data_info(0)['instances']
    assert [i['corner'] for i in instances] == [False, True]


def test_generate_cornershapes_cli(tmp_path, monkeypatch, capsys):
    tool = load_tool('misc/generate_cornershapes.py')
    monkeypatch.setattr(sys, 'argv', [
        'generate_cornershapes.py', '--out-dir', str(tmp_path), '--det-train',
        '3', '--vqa-train', '4', '--val', '2', '--corner', '1', '--novel',
        '5'
    ])
    tool.main()
    printed = capsys.readouterr().out
    assert 'majority' in printed and 'vqa_train' in printed
    assert (tmp_path / 'stats.json').exists()
    # each flag sizes its own split (all sizes differ)
    sizes = dict(det_train=3, vqa_train=4, val=2, corner=1, novel=5)
    for split, size in sizes.items():
        records = json.loads(
            (tmp_path / 'questions' / f'{split}.json').read_text())
        assert len(records['data_list']) == size, split
        assert len(list((tmp_path / 'images' / split).glob('*.png'))) == size
        if split != 'vqa_train':  # no boxes for the VQA-only split
            coco = json.loads(
                (tmp_path / 'annotations' / f'{split}.json').read_text())
            assert len(coco['images']) == size, split
