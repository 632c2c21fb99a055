"""POPE's probes on a hand-made annotation file: the popular and
adversarial negatives worked out by hand, yes/no balance, no present class
asked as absent, seeded draws."""
import json

import pytest

from mmmrmllm.datasets import MRMLLMJsonDataset, build_pope_questions
from mmmrmllm.datasets.pope import pope_question, write_pope_questions

CATEGORIES = ['person', 'car', 'dog', 'cat', 'apple', 'bike']
IMAGES = {
    1: ['person', 'car'],
    2: ['person', 'car', 'bike'],
    3: ['person', 'car', 'car'],  # a class twice counts once
    4: ['dog', 'cat'],
    5: ['dog', 'cat', 'apple'],
    6: ['cat'],
    7: [],  # never probed: nothing to ask "yes" about
}
# Images per class: person 3, car 3, cat 3, dog 2, apple 1, bike 1.
# Shared images: person-car 3, person-bike 1, car-bike 1, dog-cat 2,
# dog-apple 1, cat-apple 1.


def coco(images=IMAGES, categories=CATEGORIES):
    ids = {name: k + 1 for k, name in enumerate(categories)}
    pairs = [(img, name) for img, objs in images.items() for name in objs]
    anns = [
        dict(id=k, image_id=img, category_id=ids[name], bbox=[0, 0, 5, 5],
             area=25, iscrowd=0) for k, (img, name) in enumerate(pairs, 1)
    ]
    return dict(
        images=[dict(id=i, file_name=f'{i:03d}.jpg', width=32, height=32)
                for i in images],
        annotations=anns,
        categories=[dict(id=i, name=n) for n, i in ids.items()])


def probes(content):
    """{(image_id, sampling): ([yes classes], [no classes])}."""
    out = {}
    for record in content['data_list']:
        for q in record['questions']:
            name = q['question'][len('Is there a '):-len(' in the image?')]
            key = (record['image_id'], q['type'][len('pope_'):])
            yes, no = out.setdefault(key, ([], []))
            (yes if q['answers'] == ['yes'] else no).append(name.strip())
    return out


def test_popular_and_adversarial_negatives_by_hand():
    got = probes(build_pope_questions(coco(), num_per_image=1, seed=0))
    assert sorted({i for i, _ in got}) == [1, 2, 3, 4, 5, 6]
    # popular: the most frequent absent class (person, car and cat tie at
    # 3 images: the first in category order)
    for img, expected in {1: 'cat', 2: 'cat', 3: 'cat', 4: 'person',
                          5: 'person', 6: 'person'}.items():
        assert got[img, 'popular'][1] == [expected], img
    # adversarial: the absent class sharing most images with the asked
    # one; person and car both share most with bike (their other partner
    # is present), dog and cat with apple, cat alone with dog
    for img, expected in {1: 'bike', 3: 'bike', 4: 'apple',
                          6: 'dog'}.items():
        assert got[img, 'adversarial'][1] == [expected], img
    # image 5: every partner of dog, cat and apple is present: a random
    # absent class, as POPE falls back
    assert got[5, 'adversarial'][1][0] in ('person', 'car', 'bike')


@pytest.mark.parametrize('seed', range(5))
@pytest.mark.parametrize('num', [1, 2, 3])
def test_balanced_and_no_present_class_among_negatives(seed, num):
    content = build_pope_questions(coco(), num_per_image=num,
                                   min_classes=1, seed=seed)
    got = probes(content)
    for (img, sampling), (yes, no) in got.items():
        present = set(IMAGES[img])
        k = min(num, len(present), len(CATEGORIES) - len(present))
        assert len(yes) == len(no) == k, (img, sampling)
        assert set(yes) <= present and not set(no) & present
        assert len(set(no)) == len(no)
    # the same positives for every sampling
    for img in {i for i, _ in got}:
        assert got[img, 'random'][0] == got[img, 'popular'][0] == \
            got[img, 'adversarial'][0]
    # positives and negatives alternate, POPE's order
    record = content['data_list'][0]
    assert [q['answers'][0] for q in record['questions']] == \
        ['yes', 'no'] * (len(record['questions']) // 2)


def test_seeded():
    one = build_pope_questions(coco(), num_per_image=2, min_classes=1,
                               seed=3)
    assert one == build_pope_questions(coco(), num_per_image=2,
                                       min_classes=1, seed=3)
    others = [build_pope_questions(coco(), num_per_image=2, min_classes=1,
                                   seed=s) for s in range(4, 9)]
    assert any(o != one for o in others)


def test_image_choice_and_every_class_images():
    # as POPE, only images with at least num_per_image classes by default
    got = probes(build_pope_questions(coco(), num_per_image=2))
    assert sorted({i for i, _ in got}) == [1, 2, 3, 4, 5]
    content = build_pope_questions(coco(), num_per_image=1, num_images=3,
                                   seed=1)
    assert len(content['data_list']) == 3
    with pytest.raises(ValueError, match='only 6 have'):
        build_pope_questions(coco(), num_per_image=1, num_images=7)
    with pytest.raises(ValueError, match='sampling'):
        build_pope_questions(coco(), samplings=['hard'])
    # an image that has every class has no negative to ask: skipped
    small = coco({1: ['dog', 'cat'], 2: ['dog']}, ['dog', 'cat'])
    content = build_pope_questions(small, num_per_image=3, min_classes=1)
    assert [r['image_id'] for r in content['data_list']] == [2]
    assert content['metainfo']['pope']['skipped_every_class'] == 1


def test_phrasing():
    assert pope_question('cat') == 'Is there a cat in the image?'
    assert pope_question('apple') == 'Is there an apple in the image?'
    assert pope_question('umbrella', 'Is there a {} here?') == \
        'Is there an umbrella here?'


def test_written_file_loads_as_questions(tmp_path):
    ann = tmp_path / 'ann.json'
    ann.write_text(json.dumps(coco()))
    out = tmp_path / 'pope' / 'val.json'
    counts = write_pope_questions(str(ann), str(out), num_per_image=1)
    assert counts['images'] == 6 and counts['questions'] == 36
    assert counts['per_sampling'] == dict(random=12, popular=12,
                                          adversarial=12)
    dataset = MRMLLMJsonDataset(
        ann_file=str(out), data_root=str(tmp_path), check_images=False,
        test_mode=True, lazy_init=False)
    assert dataset.metainfo['classes'] == tuple(CATEGORIES)
    info = dataset.get_data_info(0)
    assert not info.get('instances')
    assert info['question_types'] == [
        'pope_random', 'pope_random', 'pope_popular', 'pope_popular',
        'pope_adversarial', 'pope_adversarial']
    assert info['gt_answers'] == [['yes'], ['no']] * 3
