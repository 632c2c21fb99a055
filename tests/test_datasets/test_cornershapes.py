import json
import re
from collections import Counter

import numpy as np
import pytest
from mmengine.dataset import ConcatDataset, pseudo_collate
from torch.utils.data import DataLoader

from mmmrmllm.datasets import (
    CornerShapesDataset,
    MixedRatioSampler,
    MRMLLMJsonDataset,
    generate_cornershapes,
)
from mmmrmllm.datasets.cornershapes import (
    CLASSES,
    QUESTION_TYPES,
    generate_image,
)
from mmmrmllm.datasets.cornershapes.questions import QUADRANTS
from mmmrmllm.datasets.cornershapes.tokenizer_corpus import TOKENIZER_VOCAB

SIZES = dict(det_train=12, vqa_train=12, val=6, corner=6, novel=4)
PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomFlipWithText', prob=0.5),
    dict(type='EncoderView', scale=(64, 64)),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='PackMRMLLMInputs'),
]


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    out = tmp_path_factory.mktemp('cornershapes')
    generate_cornershapes(str(out), sizes=SIZES, seed=3)
    return out


def test_files_and_stats(root):
    for split in ('det_train', 'val', 'corner', 'novel'):
        coco = json.loads((root / 'annotations' / f'{split}.json').read_text())
        assert len(coco['images']) == SIZES[split]
        assert [c['name'] for c in coco['categories']] == list(CLASSES)
        for ann in coco['annotations']:
            x, y, w, h = ann['bbox']
            assert w >= 1 and h >= 1 and x >= 0 and y >= 0
            assert x + w <= 128 and y + h <= 128
    assert not (root / 'annotations' / 'vqa_train.json').exists()
    det_q = json.loads((root / 'questions' / 'det_train.json').read_text())
    assert len(det_q['data_list']) == SIZES['det_train']
    assert all(r['questions'] for r in det_q['data_list'])
    stats = json.loads((root / 'stats.json').read_text())
    assert stats['splits']['det_train']['objects_by_appearance'].keys() == {
        'common'}
    corner = stats['splits']['corner']['objects_by_appearance']
    assert corner['corner'] > 0
    for split in ('vqa_train', 'val', 'corner', 'novel'):
        info = stats['splits'][split]
        assert 0 < info['majority_acc'] <= 1
        assert 'train_prior_acc' in info
    seen = set()
    for split in ('vqa_train', 'val', 'corner', 'novel'):
        seen |= set(stats['splits'][split]['question_types'])
    assert seen == set(QUESTION_TYPES)


def test_answers_follow_ground_truth(root):
    """Each question type's answer, worked out again from the scene's
    annotations (shape, colour, box)."""
    checked = Counter()
    for split in ('det_train', 'val', 'corner', 'novel'):
        coco = json.loads(
            (root / 'annotations' / f'{split}.json').read_text())
        questions = json.loads(
            (root / 'questions' / f'{split}.json').read_text())
        scenes = {}
        for ann in coco['annotations']:
            x, y, w, h = ann['bbox']
            scenes.setdefault(ann['image_id'], []).append(
                (CLASSES[ann['category_id'] - 1], ann['colour'],
                 (x + w / 2, y + h / 2)))
        for rec in questions['data_list']:
            checked.update(
                q['type'] + ':' + q['answers'][0] if q['type'] ==
                'existence' else q['type'] for q in rec['questions'])
            for q in rec['questions']:
                _check_answer(q, scenes.get(rec['image_id'], []))
    # every type was checked; existence both ways
    assert {k for k in checked if not k.startswith('existence')} == set(
        QUESTION_TYPES) - {'existence'}
    assert checked['existence:yes'] > 0 and checked['existence:no'] > 0


def _check_answer(q, objs):
    text, (answer, ), qtype = q['question'], q['answers'], q['type']
    shapes = Counter(shape for shape, _, _ in objs)
    looks = Counter((colour, shape) for shape, colour, _ in objs)
    if qtype == 'existence':
        colour, shape = re.fullmatch(r'Is there a (.+) (\w+)\?',
                                     text).groups()
        assert answer == ('yes' if looks[(colour, shape)] else 'no'), text
    elif qtype == 'counting':
        plural = re.fullmatch(r'How many (\w+) are there\?', text).group(1)
        shape = next(c for c in CLASSES if plural.startswith(c))
        assert answer == str(shapes[shape]), text
    elif qtype == 'colour':
        shape = re.fullmatch(r'What colour is the (\w+)\?', text).group(1)
        assert shapes[shape] == 1, text  # unambiguous
        assert [answer] == [c for s, c, _ in objs if s == shape], text
    elif qtype == 'shape_at_position':
        quadrant = re.fullmatch(r'What shape is in the ([\w-]+)\?',
                                text).group(1)
        inside = [
            s for s, _, (cx, cy) in objs
            if quadrant == ('top' if cy < 64 else 'bottom') + '-' +
            ('left' if cx < 64 else 'right')]
        assert inside == [answer], text
    else:
        assert qtype == 'relative_position'
        a_col, a_shape, b_col, b_shape = re.fullmatch(
            r'Is the (.+) (\w+) left or right of the (.+) (\w+)\?',
            text).groups()
        assert looks[(a_col, a_shape)] == looks[(b_col, b_shape)] == 1, text
        (ax, ), (bx, ) = ([x for s, c, (x, _) in objs if (c, s) == look]
                          for look in ((a_col, a_shape), (b_col, b_shape)))
        assert answer == ('left' if ax < bx else 'right'), text


def test_quadrants_are_one_token_in_prompt_questions_and_answers(root):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast
    assert QUADRANTS == ('top-left', 'top-right', 'bottom-left',
                         'bottom-right')
    path = root / 'tokenizer'
    tok = AutoTokenizer.from_pretrained(str(path))
    # a standard tokenizers file, loadable on its own too
    plain = PreTrainedTokenizerFast(
        tokenizer_file=str(path / 'tokenizer.json'))
    assert len(tok) <= TOKENIZER_VOCAB
    for quadrant in QUADRANTS:
        # an answer (' ' + answer), a word in the prompt or a question, or
        # the text's first word: the same one token
        for text in (' ' + quadrant, quadrant):
            ids = tok(text, add_special_tokens=False).input_ids
            assert tok.convert_ids_to_tokens(ids) == ['▁' + quadrant]
            assert plain(text, add_special_tokens=False).input_ids == ids
        ids = tok(f'What shape is in the {quadrant}?',
                  add_special_tokens=False).input_ids
        assert tok.convert_tokens_to_ids('▁' + quadrant) in ids
    prompt = 'Objects: top-left circle, bottom-right star.\n'
    assert tok.decode(tok(prompt).input_ids,
                      skip_special_tokens=True) == prompt
    asked = set()
    for split in ('vqa_train', 'val', 'corner', 'novel'):
        data = json.loads((root / 'questions' / f'{split}.json').read_text())
        for rec in data['data_list']:
            for q in rec['questions']:
                if q['type'] == 'shape_at_position':
                    where = q['question'][len('What shape is in the '):-1]
                    assert where in QUADRANTS, q['question']
                    asked.add(where)
                assert 'top left' not in q['question'] + q['answers'][0]
    assert asked


def test_deterministic(tmp_path):
    a = generate_image(5, 'corner', 3)
    b = generate_image(5, 'corner', 3)
    c = generate_image(6, 'corner', 3)
    assert np.array_equal(a['image'], b['image'])
    assert a['questions'] == b['questions']
    assert not np.array_equal(a['image'], c['image'])
    # an image does not depend on the size of its split
    generate_cornershapes(str(tmp_path / 'x'), sizes=dict(
        det_train=0, vqa_train=0, val=2, corner=0, novel=0), seed=5)
    generate_cornershapes(str(tmp_path / 'y'), sizes=dict(
        det_train=0, vqa_train=0, val=4, corner=0, novel=0), seed=5)
    for name in ('000000.png', '000001.png'):
        assert (tmp_path / 'x/images/val' / name).read_bytes() == (
            tmp_path / 'y/images/val' / name).read_bytes()


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='hexagon'):
        generate_cornershapes(str(tmp_path), classes=('circle', 'hexagon'))
    with pytest.raises(ValueError, match='split'):
        generate_cornershapes(str(tmp_path), sizes=dict(test=3))


def test_datasets_load(root):
    val = CornerShapesDataset(
        data_root=str(root), ann_file='annotations/val.json',
        question_file='questions/val.json', data_prefix=dict(img=''),
        pipeline=PIPELINE, test_mode=True)
    assert len(val) == SIZES['val'] and val.drop_counts == {}
    item = val[0]
    ds = item['data_samples']
    assert ds.has_det_ann is True and len(ds.questions) >= 2
    assert item['inputs']['enc'].shape == (3, 64, 64)
    corner = CornerShapesDataset(
        data_root=str(root), ann_file='annotations/corner.json',
        data_prefix=dict(img=''), pipeline=[])
    flags = [i['corner'] for k in range(len(corner))
             for i in corner.get_data_info(k)['instances']]
    assert any(flags) and len(flags) > len(corner)


def test_mixed_training_set(root):
    det = dict(type=CornerShapesDataset, data_root=str(root),
               ann_file='annotations/det_train.json',
               data_prefix=dict(img=''), pipeline=PIPELINE)
    vqa = dict(type=MRMLLMJsonDataset, data_root=str(root),
               ann_file='questions/vqa_train.json',
               data_prefix=dict(img=''), pipeline=PIPELINE)
    dataset = ConcatDataset([det, vqa])
    sampler = MixedRatioSampler(dataset, ratios=[1, 1], seed=0)
    loader = DataLoader(dataset, batch_size=8, sampler=sampler,
                        collate_fn=pseudo_collate)
    flags = []
    for batch in loader:
        assert len(batch['inputs']['det']) == len(batch['inputs']['enc'])
        for sample in batch['data_samples']:
            flags.append(sample.has_det_ann)
            assert sample.has_det_ann or sample.questions
            if not sample.has_det_ann:
                assert len(sample.gt_instances.bboxes) == 0
    assert Counter(flags) == {True: 12, False: 12}
