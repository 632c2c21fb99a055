import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmmrmllm.datasets import (
    CODADataset,
    DataRecordError,
    MRMLLMCocoDataset,
    TextGeometryError,
)

CLASSES = ('circle', 'square')


def write_image(path, size=(32, 32)):
    Image.fromarray(np.full((size[1], size[0], 3), 200,
                            np.uint8)).save(path)


def write_coco(root, anns=None, images=None, categories=None,
               make_images=True):
    images = images if images is not None else [
        dict(id=1, file_name='a.png', width=32, height=32),
        dict(id=2, file_name='b.png', width=32, height=32),
    ]
    anns = anns if anns is not None else [
        dict(id=1, image_id=1, category_id=2, bbox=[2, 2, 10, 10],
             area=100, iscrowd=0),
        dict(id=2, image_id=2, category_id=1, bbox=[5, 5, 8, 8], area=64,
             iscrowd=0, corner=True),
    ]
    # Categories in another order than CLASSES: labels follow CLASSES.
    categories = categories if categories is not None else [
        dict(id=1, name='square'), dict(id=2, name='circle')
    ]
    if make_images:
        for img in images:
            write_image(osp.join(root, img['file_name']))
    path = osp.join(root, 'ann.json')
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=anns,
                       categories=categories), f)
    return path


def build(root, ann_file, **kwargs):
    kwargs.setdefault('pipeline', [])
    return MRMLLMCocoDataset(
        data_root=str(root),
        ann_file=ann_file,
        data_prefix=dict(img=''),
        metainfo=dict(classes=CLASSES),
        **kwargs)


def test_load_labels_follow_classes(tmp_path):
    write_coco(tmp_path)
    ds = build(tmp_path, 'ann.json')
    assert len(ds) == 2
    first = ds.get_data_info(0)
    # category 2 is 'circle' -> index 0 in CLASSES
    assert first['instances'][0]['bbox_label'] == 0
    assert first['instances'][0]['bbox'] == [2, 2, 12, 12]
    assert first['has_det_ann'] is True
    assert first['questions'] == []
    second = ds.get_data_info(1)
    assert second['instances'][0]['bbox_label'] == 1
    assert second['instances'][0]['corner'] is True
    assert not first['instances'][0]['corner']
    assert ds.drop_counts == {}


def test_corner_classes(tmp_path):
    write_coco(tmp_path)
    ds = CODADataset(
        data_root=str(tmp_path),
        ann_file='ann.json',
        data_prefix=dict(img=''),
        metainfo=dict(classes=CLASSES),
        corner_classes=['circle'],
        pipeline=[])
    assert ds.get_data_info(0)['instances'][0]['corner'] is True
    # the per-object flag wins over the class list
    assert ds.get_data_info(1)['instances'][0]['corner'] is True


def test_question_file(tmp_path):
    write_coco(tmp_path)
    with open(tmp_path / 'q.json', 'w') as f:
        json.dump([
            dict(image_id=1, questions=[
                dict(id=7, question='How many circles?', answers=['1'],
                     type='counting')
            ]),
            dict(image='b.png', questions=[
                dict(question='Is there a square?', answer='yes')
            ]),
        ], f)
    ds = build(tmp_path, 'ann.json', question_file='q.json')
    first, second = ds.get_data_info(0), ds.get_data_info(1)
    assert first['questions'] == ['How many circles?']
    assert first['gt_answers'] == [['1']]
    assert first['question_types'] == ['counting']
    assert first['question_ids'] == [7]
    assert second['gt_answers'] == [['yes']]


@pytest.mark.parametrize('ann, reason', [
    (dict(bbox=[2, 2, 0, 10], area=0), 'zero_area_box'),
    (dict(bbox=[2, 2, -3, 10], area=30), 'zero_area_box'),
    (dict(bbox=[40, 40, 5, 5], area=25), 'box_outside_image'),
    (dict(bbox=[2, 2, 0.5, 10], area=5), 'box_under_1px'),
    (dict(bbox=[2, 2, 5, 5], area=25, category_id=99), 'unknown_category'),
    (dict(bbox=[2, 2, 5, 5], area=25, category_id=True),
     'unknown_category'),
    (dict(bbox=[2, float('nan'), 5, 5], area=25), 'malformed_box'),
    (dict(bbox=[2, 2, float('inf'), 5], area=25), 'malformed_box'),
    (dict(bbox=['2', 2, 5, 5], area=25), 'malformed_box'),
    (dict(bbox=[2, 2, 5, 5], area=None), 'malformed_box'),
    (dict(bbox=[2, 2, 5], area=25), 'malformed_box'),
])
def test_invalid_box_refused_or_counted(tmp_path, ann, reason):
    bad = dict(id=3, image_id=1, category_id=1, iscrowd=0)
    bad.update(ann)
    write_coco(tmp_path, anns=[
        dict(id=1, image_id=1, category_id=2, bbox=[2, 2, 10, 10],
             area=100, iscrowd=0), bad
    ])
    with pytest.raises(DataRecordError, match=r'ann\.json.*annotation 3'):
        build(tmp_path, 'ann.json')
    ds = build(tmp_path, 'ann.json', skip_invalid=True)
    assert ds.drop_counts[reason] == 1
    assert len(ds.get_data_info(0)['instances']) == 1


def test_drop_report_counts_the_samples_that_remain(tmp_path, caplog):
    """After serialisation data_list is empty: the report must count the
    samples, not the list (it said "0 samples remain")."""
    write_coco(tmp_path, anns=[
        dict(id=1, image_id=1, category_id=2, bbox=[2, 2, 10, 10],
             area=100, iscrowd=0),
        dict(id=2, image_id=1, category_id=1, bbox=[2, 2, 0, 10], area=0,
             iscrowd=0)
    ])
    ds = build(tmp_path, 'ann.json', skip_invalid=True)
    assert ds.data_list == [] and len(ds) >= 1  # serialised
    from mmengine.logging import MMLogger
    logs = []
    handler = __import__('logging').Handler()
    handler.emit = lambda record: logs.append(record.getMessage())
    MMLogger.get_current_instance().addHandler(handler)
    try:
        ds.report_drops()
    finally:
        MMLogger.get_current_instance().removeHandler(handler)
    assert any(f'{len(ds)} samples remain' in m for m in logs), logs


def test_category_not_in_classes_is_counted(tmp_path):
    write_coco(tmp_path, categories=[
        dict(id=1, name='square'), dict(id=2, name='circle'),
        dict(id=3, name='star')
    ], anns=[
        dict(id=1, image_id=1, category_id=3, bbox=[2, 2, 10, 10],
             area=100, iscrowd=0)
    ])
    ds = build(tmp_path, 'ann.json')
    assert ds.drop_counts['category_not_in_classes'] == 1


def test_class_missing_from_file(tmp_path):
    write_coco(tmp_path, categories=[dict(id=1, name='square')], anns=[])
    with pytest.raises(DataRecordError, match=r"\['circle'\]"):
        build(tmp_path, 'ann.json')


def test_empty_annotation_file(tmp_path):
    (tmp_path / 'ann.json').write_text('')
    with pytest.raises(DataRecordError, match='ann.json.*empty'):
        build(tmp_path, 'ann.json')
    write_coco(tmp_path, images=[], anns=[])
    with pytest.raises(DataRecordError, match='ann.json.*no images'):
        build(tmp_path, 'ann.json')


def test_question_for_unknown_image(tmp_path):
    write_coco(tmp_path)
    with open(tmp_path / 'q.json', 'w') as f:
        json.dump([dict(image_id=42, questions=[dict(question='?', answer=
                                                     'no')])], f)
    with pytest.raises(DataRecordError, match='image 42'):
        build(tmp_path, 'ann.json', question_file='q.json')
    ds = build(tmp_path, 'ann.json', question_file='q.json',
               skip_invalid=True)
    assert ds.drop_counts['question_unknown_image'] == 1


def test_filter_empty_gt_is_counted(tmp_path):
    write_coco(tmp_path, anns=[
        dict(id=1, image_id=1, category_id=2, bbox=[2, 2, 10, 10],
             area=100, iscrowd=0)
    ])
    ds = build(tmp_path, 'ann.json', filter_cfg=dict(filter_empty_gt=True))
    assert len(ds) == 1
    assert ds.drop_counts['filter_empty_gt'] == 1
    with pytest.raises(DataRecordError, match='filter_min_size.: 2'):
        build(tmp_path, 'ann.json', filter_cfg=dict(min_size=64))


def test_missing_image(tmp_path):
    write_coco(tmp_path)
    (tmp_path / 'b.png').unlink()
    pipeline = [dict(type='LoadImageFromFile')]
    ds = build(tmp_path, 'ann.json', pipeline=pipeline)
    assert ds[0]['img'].shape == (32, 32, 3)
    with pytest.raises(DataRecordError, match=r'ann\.json.*img_id=2.*b\.png'):
        ds[1]
    with pytest.raises(DataRecordError, match='b.png does not exist'):
        build(tmp_path, 'ann.json', check_images=True)
    ds = build(tmp_path, 'ann.json', check_images=True, skip_invalid=True)
    assert len(ds) == 1 and ds.drop_counts['missing_image'] == 1


def test_corrupt_image_skipped_and_refetch_counted(tmp_path):
    write_coco(tmp_path)
    (tmp_path / 'b.png').write_bytes(b'not a png at all')
    pipeline = [dict(type='LoadImageFromFile')]
    ds = build(tmp_path, 'ann.json', pipeline=pipeline)
    with pytest.raises(DataRecordError, match=r'img_id=2.*b\.png'):
        ds[1]
    ds = build(tmp_path, 'ann.json', pipeline=pipeline, skip_invalid=True)
    np.random.seed(0)
    out = ds[1]
    assert out['img_id'] == 1
    assert ds.drop_counts['refetch'] >= 1
    assert ds.drop_counts['pipeline_error:AssertionError'] >= 1


def test_pipeline_none_refetch_counted(tmp_path):
    write_coco(tmp_path)

    def drop_second(results):
        return None if results['img_id'] == 2 else results

    ds = build(tmp_path, 'ann.json', pipeline=[drop_second])
    np.random.seed(0)
    assert ds[1]['img_id'] == 1
    assert ds.num_refetches >= 1
    assert ds.drop_counts['refetch'] == ds.num_refetches
    test_ds = build(tmp_path, 'ann.json', pipeline=[drop_second],
                    test_mode=True)
    with pytest.raises(DataRecordError, match='returned None'):
        test_ds[1]


def test_malformed_files(tmp_path):
    (tmp_path / 'ann.json').write_text('{"images": [')
    with pytest.raises(DataRecordError, match='ann.json: not a COCO JSON'):
        build(tmp_path, 'ann.json')
    write_coco(tmp_path)
    (tmp_path / 'q.json').write_text(json.dumps([dict(questions=[])]))
    with pytest.raises(DataRecordError, match='q.json.*names no image'):
        build(tmp_path, 'ann.json', question_file='q.json')


def test_flip_on_questions_never_skipped(tmp_path):
    write_coco(tmp_path)
    (tmp_path / 'q.json').write_text(json.dumps([
        dict(image_id=1, questions=[dict(question='Left?', answer='yes')])
    ]))
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='RandomFlip', prob=1.0),
        dict(type='PackMRMLLMInputs')
    ]
    ds = build(tmp_path, 'ann.json', question_file='q.json',
               pipeline=pipeline, skip_invalid=True)
    assert ds[1]['data_samples'].flip  # no questions: flipping is fine
    with pytest.raises(TextGeometryError, match='RandomFlipWithText'):
        ds[0]


@pytest.mark.parametrize('width', ['32', 0, -5, 3.5, None, True])
def test_bad_image_size_names_the_image(tmp_path, width):
    write_coco(tmp_path, images=[
        dict(id=1, file_name='a.png', width=width, height=32)], anns=[])
    with pytest.raises(DataRecordError,
                       match=r'ann\.json: image 1 \(a\.png\): "width"'):
        build(tmp_path, 'ann.json')


def test_duplicate_image_ids_are_refused(tmp_path):
    """pycocotools silently keeps one record per id: refuse the file."""
    write_coco(tmp_path, images=[
        dict(id=1, file_name='a.png', width=32, height=32),
        dict(id=1, file_name='b.png', width=32, height=32),
    ], anns=[])
    with pytest.raises(DataRecordError,
                       match=r'ann\.json: image ids \[1\] appear more'):
        build(tmp_path, 'ann.json')


def test_duplicate_question_ids_are_refused(tmp_path):
    write_coco(tmp_path)
    with open(tmp_path / 'q.json', 'w') as f:
        json.dump([
            dict(image_id=1, questions=[
                dict(id=7, question='How many circles?', answers=['1'])]),
            dict(image_id=2, questions=[
                dict(id=7, question='Is there a square?', answers=['no'])]),
        ], f)
    with pytest.raises(DataRecordError,
                       match=r'q\.json: question ids \[7\] appear more'):
        build(tmp_path, 'ann.json', question_file='q.json')
