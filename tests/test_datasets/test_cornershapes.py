import json
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
from mmmrmllm.datasets.cornershapes.phrasings import (
    HELDOUT_PHRASINGS,
    TEMPLATES,
    TRAIN_PHRASINGS,
    parse_question,
)
from mmmrmllm.datasets.cornershapes.questions import QUADRANTS
from mmmrmllm.datasets.cornershapes.tokenizer_corpus import (
    TOKENIZER_VOCAB,
    WHOLE_WORDS,
)

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
    """Each question's answer, worked out again from the scene's
    annotations (shape, colour, box), in whichever phrasing it is asked;
    the evaluation splits ask the templates only."""
    checked = Counter()
    for split in ('det_train', 'vqa_train', 'val', 'corner', 'novel',
                  'val_phrasing'):
        coco = json.loads((root / 'annotations' /
                           f'{split.replace("_phrasing", "")}.json')
                          .read_text()) if split != 'vqa_train' else None
        questions = json.loads(
            (root / 'questions' / f'{split}.json').read_text())
        scenes = {}
        for ann in (coco or {}).get('annotations', []):
            x, y, w, h = ann['bbox']
            scenes.setdefault(ann['image_id'], []).append(
                (CLASSES[ann['category_id'] - 1], ann['colour'],
                 (x + w / 2, y + h / 2)))
        for rec in questions['data_list']:
            for q in rec['questions']:
                kind = parse_question(q['question']).kind
                checked[(split, kind, q['answers'][0] if kind.startswith(
                    'existence') else '')] += 1
                if split in ('val', 'corner', 'novel'):
                    assert q['question'] == TEMPLATES[q['type']].format(
                        **_slots(q['question'])), q['question']
                if coco is not None:
                    _check_answer(q, scenes.get(rec['image_id'], []))
    kinds = {(split, kind) for split, kind, _ in checked}
    # every type was checked; existence both ways, also without a colour
    for split in ('det_train', 'val'):
        assert {k for s, k in kinds if s == split} >= set(QUESTION_TYPES) - {
            'relative_position'}, split
    for answer in ('yes', 'no'):
        assert sum(checked[(split, 'existence_any_colour', answer)]
                   for split in ('det_train', 'vqa_train')) > 0
        assert checked[('val', 'existence', answer)] > 0
    assert not any(k == 'existence_any_colour' for s, k in kinds
                   if s in ('val', 'corner', 'novel', 'val_phrasing'))


def _slots(text):
    return parse_question(text).slots


def _check_answer(q, objs):
    text, (answer, ), qtype = q['question'], q['answers'], q['type']
    kind, _, slots = parse_question(text)
    assert kind.startswith(qtype), (kind, text)
    shapes = Counter(shape for shape, _, _ in objs)
    looks = Counter((colour, shape) for shape, colour, _ in objs)
    if kind == 'existence_any_colour':
        shape = slots.get('shape') or next(
            c for c in CLASSES if slots['shapes'].startswith(c))
        # any object of the shape, whatever its colour
        assert answer == ('yes' if shapes[shape] else 'no'), text
    elif qtype == 'existence':
        colour, shape = slots['colour'], slots['shape']
        assert answer == ('yes' if looks[(colour, shape)] else 'no'), text
    elif qtype == 'counting':
        shape = next(c for c in CLASSES if slots['shapes'].startswith(c))
        assert answer == str(shapes[shape]), text
    elif qtype == 'colour':
        shape = slots['shape']
        assert shapes[shape] == 1, text  # unambiguous
        assert [answer] == [c for s, c, _ in objs if s == shape], text
    elif qtype == 'shape_at_position':
        quadrant = slots['quadrant']
        inside = [
            s for s, _, (cx, cy) in objs
            if quadrant == ('top' if cy < 64 else 'bottom') + '-' +
            ('left' if cx < 64 else 'right')]
        assert inside == [answer], text
    else:
        assert qtype == 'relative_position'
        (a_col, a_shape), (b_col, b_shape) = (
            slots[k].split(' ') for k in ('a', 'b'))
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
    # the normalizer lower-cases: the prompt decodes in lower case
    prompt = 'Objects: top-left circle, bottom-right star.\n'
    assert tok.decode(tok(prompt).input_ids,
                      skip_special_tokens=True) == prompt.lower()
    asked = set()
    for split in ('val', 'corner', 'novel'):
        data = json.loads((root / 'questions' / f'{split}.json').read_text())
        for rec in data['data_list']:
            for q in rec['questions']:
                if q['type'] == 'shape_at_position':
                    where = q['question'][len('What shape is in the '):-1]
                    assert where in QUADRANTS, q['question']
                    asked.add(where)
                # the templates write a quadrant as the prompt does
                assert 'top left' not in q['question'] + q['answers'][0]
    assert asked


def test_tokenizer_reads_case_and_spaces_alike(root):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(root / 'tokenizer'))

    def ids(text):
        return tok(text, add_special_tokens=False).input_ids

    assert ids('How many  Circles are there?') == ids(
        ' how many circles are there?') == ids('HOW\tMANY circles ARE there?')
    # NFKC: full-width letters are the ASCII ones
    assert ids('\uff28ow many circles?') == ids('how many circles?')
    # line breaks stay: the prompt is laid out with them
    assert tok.decode(ids('Counts: circle 1.\nQuestion: X')) == \
        'counts: circle 1.\nquestion: x'
    # every word answer is one generated step, after the answer prefix
    for word in WHOLE_WORDS:
        assert tok.convert_ids_to_tokens(ids(' ' + word)) == ['▁' + word]
    # every phrasing, the held-out ones too, encodes without <unk>
    for pool in (TRAIN_PHRASINGS, HELDOUT_PHRASINGS):
        for templates in pool.values():
            for t in templates:
                text = t.format(shape='circle', shapes='circles',
                                colour='red', quadrant='upper left',
                                a='red circle', b='blue star')
                assert tok.unk_token_id not in ids(text), text


def _normalised(template):
    return ' '.join(template.lower().rstrip('?.').split())


def test_phrasings_training_draws_and_the_held_out_split(root):
    data = {
        split: json.loads((root / 'questions' / f'{split}.json').read_text())
        for split in ('det_train', 'vqa_train', 'val', 'val_phrasing')}
    used = Counter(
        parse_question(q['question']).phrasing
        for split in ('det_train', 'vqa_train')
        for rec in data[split]['data_list'] for q in rec['questions'])
    train = {t for ts in TRAIN_PHRASINGS.values() for t in ts}
    heldout = {t for ts in HELDOUT_PHRASINGS.values() for t in ts}
    # training draws among its phrasings, more than the template per type
    assert set(used) <= train and len(used) >= 2 * len(TEMPLATES)
    assert any(not q['question'].endswith(('?', '.'))
               for rec in data['vqa_train']['data_list']
               for q in rec['questions'])
    # the held-out phrasings are none of training's, even after the
    # tokenizer's normalisation and without the final mark
    assert not {_normalised(t) for t in heldout} & {
        _normalised(t) for t in train}
    # ... and use only words that training uses
    words = {w.strip(',') for t in train for w in _normalised(t).split()}
    for t in heldout:
        assert {w.strip(',') for w in _normalised(t).split()} <= words, t
    # val_phrasing: val's images, questions and answers, reworded
    val, reworded = (data[s]['data_list'] for s in ('val', 'val_phrasing'))
    assert len(val) == len(reworded) == SIZES['val']
    for a, b in zip(val, reworded):
        assert {k: v for k, v in a.items() if k != 'questions'} == {
            k: v for k, v in b.items() if k != 'questions'}
        assert len(a['questions']) == len(b['questions'])
        for qa, qb in zip(a['questions'], b['questions']):
            assert {k: v for k, v in qa.items() if k != 'question'} == {
                k: v for k, v in qb.items() if k != 'question'}
            pa, pb = parse_question(qa['question']), parse_question(
                qb['question'])
            assert pb.phrasing in heldout and pa.kind == pb.kind
            assert pa.slots == pb.slots
    stats = json.loads((root / 'stats.json').read_text())['splits']
    assert stats['val_phrasing']['question_types'] == stats['val'][
        'question_types']


def test_wording_changes_nothing_else():
    reworded = 0
    for split in ('vqa_train', 'val'):
        for i in range(20):
            plain = generate_image(0, split, i, phrasing='template')
            for style in ('train', 'heldout'):
                other = generate_image(0, split, i, phrasing=style)
                assert np.array_equal(plain['image'], other['image'])
                assert plain['objects'] == other['objects']
                assert len(plain['questions']) == len(other['questions'])
                for p, o in zip(plain['questions'], other['questions']):
                    assert p['type'] == o['type']
                    reworded += p['question'] != o['question']
                    # an existence question without a colour asks anew
                    if parse_question(o['question']).kind != \
                            'existence_any_colour':
                        assert p['answers'] == o['answers']
    assert reworded > 100
    # the evaluation splits ask the templates, training draws
    assert generate_image(0, 'val', 1)['questions'] == generate_image(
        0, 'val', 1, phrasing='template')['questions']
    assert generate_image(0, 'vqa_train', 1)['questions'] == generate_image(
        0, 'vqa_train', 1, phrasing='train')['questions']
    with pytest.raises(ValueError, match='phrasing style'):
        generate_image(0, 'val', 1, phrasing='casual')


def test_parse_question_reads_people_s_writing():
    got = parse_question('what  COLOR is the circle')
    assert (got.kind, got.slots) == ('colour', dict(shape='circle'))
    got = parse_question('Which shape is in the upper left corner?')
    assert got.slots == dict(quadrant='top-left')
    assert parse_question('Is there a square in the image?').kind == \
        'existence_any_colour'
    assert parse_question('What shape is in the middle?') is None
    assert parse_question('Why?') is None


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
