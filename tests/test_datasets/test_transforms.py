import copy

import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from PIL import Image

from mmmrmllm.datasets import DataRecordError
from mmmrmllm.datasets.transforms import swap_words


@pytest.fixture
def sample(tmp_path):
    img = np.full((40, 60, 3), 220, np.uint8)
    img[5:15, 5:15] = (255, 0, 0)  # red square on the left
    img[20:35, 40:55] = (0, 0, 255)  # blue square on the right
    path = tmp_path / 'img.png'
    Image.fromarray(img).save(path)
    return dict(
        img_path=str(path),
        img_id=1,
        has_det_ann=True,
        instances=[
            dict(bbox=[5, 5, 15, 15], bbox_label=0, ignore_flag=0),
            dict(bbox=[40, 20, 55, 35], bbox_label=1, ignore_flag=0),
        ],
        questions=['Is the red square left or right of the blue square?',
                   'What is in the top-left?'],
        gt_answers=[['left'], ['red square']],
        question_types=['relative_position', 'shape_at_position'],
        question_ids=[11, 12])


def pipeline(*middle, enc=True):
    steps = [dict(type='LoadImageFromFile'),
             dict(type='LoadAnnotations', with_bbox=True)]
    steps += list(middle)
    if enc:
        steps.append(dict(type='EncoderView', scale=(32, 32)))
    steps += [dict(type='Resize', scale=(120, 80), keep_ratio=True),
              dict(type='PackMRMLLMInputs')]
    return Compose(steps)


def test_pack_two_views(sample):
    out = pipeline()(copy.deepcopy(sample))
    assert set(out['inputs']) == {'det', 'enc'}
    assert out['inputs']['det'].shape == (3, 80, 120)
    assert out['inputs']['enc'].shape == (3, 32, 32)
    assert out['inputs']['enc'].dtype == torch.uint8
    ds = out['data_samples']
    assert ds.has_det_ann is True
    assert ds.questions == sample['questions']
    assert ds.gt_answers == sample['gt_answers']
    assert ds.question_types == sample['question_types']
    assert ds.question_ids == [11, 12]
    assert ds.gt_instances.bboxes.tensor.shape == (2, 4)
    assert ds.metainfo['instances'][0]['bbox'] == [5, 5, 15, 15]
    # the encoder view is the un-resized image, resized once
    assert ds.metainfo['enc_shape'] == (32, 32)


def test_detector_only_pipeline_has_no_enc(sample):
    out = pipeline(enc=False)(copy.deepcopy(sample))
    assert set(out['inputs']) == {'det'}


def test_vqa_only_sample_packs_empty_boxes(sample):
    data = copy.deepcopy(sample)
    data.update(has_det_ann=False, instances=[])
    steps = Compose([
        dict(type='LoadImageFromFile'),
        dict(type='EncoderView', scale=(32, 32)),
        dict(type='PackMRMLLMInputs')
    ])
    ds = steps(data)['data_samples']
    assert ds.has_det_ann is False
    assert ds.gt_instances.bboxes.shape == (0, 4)
    assert ds.gt_instances.labels.dtype == torch.long


def test_neither_boxes_nor_questions_refused(sample):
    data = copy.deepcopy(sample)
    data.update(has_det_ann=False, instances=[], questions=[],
                gt_answers=[], question_types=[], question_ids=[])
    with pytest.raises(DataRecordError, match='neither'):
        pipeline()(data)


def test_flip_with_text_recomputes_answers(sample):
    out = pipeline(dict(type='RandomFlipWithText', prob=1.0))(
        copy.deepcopy(sample))
    ds = out['data_samples']
    assert ds.flip is True
    assert ds.questions[0] == ('Is the red square right or left of the '
                               'blue square?')
    assert ds.gt_answers == [['right'], ['red square']]
    assert ds.questions[1] == 'What is in the top-right?'
    # the flipped image: the red square is now on the right
    det = out['inputs']['det'].permute(1, 2, 0).numpy()
    red = np.argwhere((det[..., 2] > 200) & (det[..., 0] < 50))
    assert red[:, 1].mean() > det.shape[1] / 2


def test_vertical_flip_swaps_top_bottom(sample):
    out = pipeline(dict(type='RandomFlipWithText', prob=1.0,
                        direction='vertical'))(copy.deepcopy(sample))
    assert out['data_samples'].questions[1] == 'What is in the bottom-left?'
    assert out['data_samples'].gt_answers[0] == ['left']


def test_plain_flip_refused_with_questions(sample):
    flip = dict(type='RandomFlip', prob=1.0)
    with pytest.raises(ValueError, match='flip'):
        pipeline(flip)(copy.deepcopy(sample))
    with pytest.raises(ValueError, match='flip'):
        pipeline(flip, enc=False)(copy.deepcopy(sample))
    det_only = copy.deepcopy(sample)
    det_only.update(questions=[], gt_answers=[], question_types=[],
                    question_ids=[])
    assert pipeline(flip)(det_only)['data_samples'].flip is True


def test_crop_refused_unless_skipped(sample):
    crop = dict(type='RandomCrop', crop_size=(30, 30))
    with pytest.raises(ValueError, match='SkipIfQuestions'):
        pipeline(crop)(copy.deepcopy(sample))
    skipped = pipeline(dict(type='SkipIfQuestions', transforms=[crop]))
    out = skipped(copy.deepcopy(sample))
    assert out['data_samples'].gt_instances.bboxes.tensor.shape == (2, 4)
    det_only = copy.deepcopy(sample)
    det_only.update(questions=[], gt_answers=[], question_types=[],
                    question_ids=[])
    np.random.seed(0)
    out = skipped(det_only)
    # the crop ran: a 30x30 crop (not the 60x40 image) was resized
    assert out['data_samples'].scale_factor[0] == pytest.approx(80 / 30,
                                                                rel=0.05)


def test_flip_then_crop_still_refused(sample):
    # the flip was made consistent with the text; the crop after it is not
    with pytest.raises(ValueError, match=r'a crop, translation, flip or '
                       r'warp changed the image \(wrap the transform in '
                       r'SkipIfQuestions\)'):
        pipeline(
            dict(type='RandomFlipWithText', prob=1.0),
            dict(type='RandomCrop', crop_size=(30, 30)))(
                copy.deepcopy(sample))


def test_encoder_view_keep_ratio(sample):
    steps = Compose([
        dict(type='LoadImageFromFile'),
        dict(type='EncoderView', scale=(32, 32), keep_ratio=True),
    ])
    out = steps(copy.deepcopy(sample))
    assert out['enc_img'].shape == (32, 32, 3)
    assert out['enc_valid_shape'] == (21, 32)


def test_swap_words():
    assert swap_words('Left of the RIGHT one, leftmost', [
        ('left', 'right'), ('leftmost', 'rightmost')
    ]) == 'Right of the LEFT one, rightmost'
    assert swap_words('lefty', [('left', 'right')]) == 'lefty'
    # the grid's one-word cell names flip like the two words did
    assert swap_words('In the top-left? bottom-right', [
        ('left', 'right'), ('top', 'bottom')
    ]) == 'In the bottom-right? top-left'
