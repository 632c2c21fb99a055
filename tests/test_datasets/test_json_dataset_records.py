"""MRMLLMJsonDataset record by record: the fields a kept record gets, the
ids it is given, and the exact refusal of each invalid one."""
import json

import pytest

from mmmrmllm.datasets import DataRecordError, MRMLLMJsonDataset

CLASSES = ['circle', 'square']


def build(tmp_path, records, **kwargs):
    path = tmp_path / 'data.json'
    path.write_text(json.dumps(dict(metainfo=dict(classes=CLASSES),
                                    data_list=records)))
    return MRMLLMJsonDataset(ann_file=str(path), pipeline=[],
                             check_images=False, **kwargs), str(path)


def q(text='what?'):
    return dict(questions=[dict(question=text, answers=['a'])])


def test_kept_record_fields_and_ids(tmp_path):
    ds, _ = build(tmp_path, [
        dict(image='a.jpg', image_id='12', width=1, height=2, instances=[
            dict(label='square', bbox=[0, 0, 1, 2], ignore=1, corner=1),
            dict(bbox_label=0, bbox=[0.5, 0.5, 1, 1.5])]),
        dict(image='b.jpg', **q()),
        dict(image='c.jpg', image_id='c', **q('c?'))])
    a, b, c = (ds.get_data_info(i) for i in range(3))
    assert a['img_path'] == 'a.jpg'  # no data_prefix: the path as given
    assert (a['img_id'], b['img_id'], c['img_id']) == (12, 13, 14)
    assert (a['width'], a['height']) == (1, 2)
    assert a['instances'] == [
        dict(bbox=[0.0, 0.0, 1.0, 2.0], bbox_label=1, ignore_flag=1,
             corner=True),
        dict(bbox=[0.5, 0.5, 1.0, 1.5], bbox_label=0, ignore_flag=0,
             corner=False)]
    assert all(type(v) is float for v in a['instances'][0]['bbox'])
    assert a['has_det_ann'] and not b['has_det_ann']


def test_images_are_checked_by_default(tmp_path):
    with pytest.raises(DataRecordError, match='a.jpg'):
        MRMLLMJsonDataset(ann_file=str(build(tmp_path, [
            dict(image='a.jpg', **q())])[1]), pipeline=[])


@pytest.mark.parametrize('records, reason, message', [
    ([dict(image_id=3, **q())], 'missing_image',
     'image 3: record names no "image"'),
    ([dict(image_id=3, image='a.jpg', **q()),
      dict(image_id=3, image='b.jpg', **q('b?'))], 'duplicate_image_id',
     "image 3: 2 records share this image id but name different images "
     "['a.jpg', 'b.jpg']"),
    ([dict(image_id=3, image=7, **q())], 'duplicate_image_id',
     'image 3: "image" must be a file name, got 7'),
    ([dict(image='a.jpg', instances=[]), dict(image='a.jpg', instances=[])],
     'duplicate_image_id', "image 'a.jpg': 2 records of this image each "
     'give "instances"; give its boxes once'),
    ([dict(image='a.jpg', width=0, **q())], 'bad_image_size',
     "image 'a.jpg': width must be a positive integer, got 0"),
    ([dict(image='a.jpg', has_det_ann='no', **q())], 'malformed_record',
     "image 'a.jpg': \"has_det_ann\" must be true or false, got 'no'"),
    ([dict(image='a.jpg', instances={}, **q())], 'malformed_record',
     "image 'a.jpg': \"instances\" must be a list, got dict"),
    ([dict(image='a.jpg', width=10, height=10,
           instances=[dict(label=0, bbox=[-5, 0, 0, 10])])],
     'box_outside_image', "image 'a.jpg', instance 0: box [-5, 0, 0, 10] "
     'lies outside the 10x10 image'),
    ([dict(image='a.jpg', width=10, height=10,
           instances=[dict(label=0, bbox=[0, 10, 5, 12])])],
     'box_outside_image', "image 'a.jpg', instance 0: box [0, 10, 5, 12] "
     'lies outside the 10x10 image'),
])
def test_refusals(tmp_path, records, reason, message):
    # a valid record first: the invalid one is not the first in the file
    records = [dict(image='ok.jpg', **q('ok?'))] + records
    with pytest.raises(DataRecordError) as err:
        build(tmp_path, records)
    assert str(err.value) == (f'{tmp_path / "data.json"}: {message} (set '
                              'skip_invalid=True to skip and count such '
                              'records)')
    ds, _ = build(tmp_path, records, skip_invalid=True)
    assert ds.drop_counts == {reason: 1}
    # a bad box drops the box, a bad record the whole sample
    kept = ['ok.jpg'] + ['a.jpg'] * (reason == 'box_outside_image')
    assert [ds.get_data_info(i)['img_path'] for i in range(len(ds))] == kept
