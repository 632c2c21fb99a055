"""The MLLM's image-text stream: generated images of common and corner
looks, each with its questions and (sometimes) a caption; no boxes."""
import numpy as np
import pytest

from mmmrmllm.datasets import CornerShapesImageTextStream, EncoderView
from mmmrmllm.datasets.cornershapes import caption, generate_image
from mmmrmllm.datasets.cornershapes.stream_dataset import CAPTION_QUESTION
from mmmrmllm.datasets.transforms import PackMRMLLMInputs

PIPELINE = [dict(type=EncoderView, scale=(64, 64)),
            dict(type=PackMRMLLMInputs)]


def test_items_are_the_generator_s_images_without_boxes():
    ds = CornerShapesImageTextStream(PIPELINE, seed=7, caption_prob=0.5)
    looks = set()
    captions = 0
    for i in range(40):
        item = ds[i]
        sample = item['data_samples']
        g = generate_image(7, 'vqa_train', i)
        # the detector view is the generated image (BGR, as from a file)
        det = item['inputs']['det'].permute(1, 2, 0).numpy()
        np.testing.assert_array_equal(det, g['image'][..., ::-1])
        assert tuple(item['inputs']['enc'].shape) == (3, 64, 64)
        assert sample.metainfo['has_det_ann'] is False
        assert len(sample.gt_instances.bboxes) == 0
        expected = [q['question'] for q in g['questions']]
        assert sample.questions[:len(expected)] == expected
        assert [a[0] for a in sample.gt_answers[:len(expected)]] == \
            [q['answers'][0] for q in g['questions']]
        if len(sample.questions) > len(expected):
            captions += 1
            assert sample.questions[-1] == CAPTION_QUESTION
            assert sample.gt_answers[-1] == [caption(g['objects'], 128)]
        looks |= {o['appearance'] for o in g['objects']}
    assert looks == {'common', 'corner'}
    assert 8 <= captions <= 32
    # a pure function of (seed, index)
    again = CornerShapesImageTextStream(PIPELINE, seed=7)[3]
    assert again['data_samples'].questions == ds[3]['data_samples'].questions


def test_questions_per_image_keeps_a_random_subset():
    full = CornerShapesImageTextStream(PIPELINE, seed=3, caption_prob=0.5)
    one = CornerShapesImageTextStream(PIPELINE, seed=3, caption_prob=0.5,
                                      questions_per_image=1)
    kinds = set()
    for i in range(30):
        a = full.record(i)
        b = one.record(i)
        assert len(b['questions']) == 1
        pair = (b['questions'][0], b['gt_answers'][0])
        assert pair in list(zip(a['questions'], a['gt_answers']))
        kinds.add(b['question_types'][0])
    assert len(kinds) >= 4  # not always the same type
    with pytest.raises(ValueError, match='questions_per_image'):
        CornerShapesImageTextStream(PIPELINE, questions_per_image=0)


def test_caption_names_every_object_left_to_right():
    objects = [
        dict(shape='square', colour='blue', bbox=[80, 80, 100, 100]),
        dict(shape='circle', colour='red', bbox=[10, 10, 30, 30]),
        dict(shape='triangle', colour='cyan', bbox=[70, 5, 90, 20]),
    ]
    from mmmrmllm.text import grid_cells
    tl, tr, _, br = grid_cells(2)
    assert caption(objects, 128) == (
        f'{tl} red circle, {tr} cyan triangle, {br} blue square')


def test_novel_looks_are_refused():
    with pytest.raises(ValueError, match='novel'):
        CornerShapesImageTextStream(PIPELINE, family='novel')
    with pytest.raises(ValueError, match='caption_prob'):
        CornerShapesImageTextStream(PIPELINE, caption_prob=1.5)


def test_recolour_changes_only_the_object():
    base = generate_image(0, 'val', 5)
    k = 0
    new = 'green' if base['objects'][k]['colour'] != 'green' else 'red'
    other = generate_image(0, 'val', 5, recolour={k: new})
    assert other['objects'][k]['colour'] == new
    changed = np.any(base['image'] != other['image'], axis=-1)
    assert changed.any()
    x1, y1, x2, y2 = base['objects'][k]['bbox']
    outside = changed.copy()
    outside[y1:y2 + 1, x1:x2 + 1] = False
    assert not outside.any()
    with pytest.raises(ValueError, match='unknown colour'):
        generate_image(0, 'val', 5, recolour={0: 'mauve'})
