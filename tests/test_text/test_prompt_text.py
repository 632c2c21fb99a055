"""The prompt's words: plurals, grid cells, object order, selection and the
text sequence template, each checked against hand-written expectations."""
import random

import pytest
import torch

from mmmrmllm.text import (
    DetectionPromptGenerator,
    grid_cells,
    plural,
    point_cell,
    text_sequence_template,
)

NAMES = ['circle', 'square', 'triangle']


def test_plural_rules():
    cases = dict(circle='circles', bus='buses', box='boxes',
                 watch='watches', dish='dishes', fly='flies',
                 key='keys', toy='toys', y='ys')
    assert {k: plural(k) for k in cases} == cases


def test_cells_at_the_edges():
    assert grid_cells() == ('top-left', 'top-right', 'bottom-left',
                            'bottom-right')
    assert point_cell(1.0, 1.0) == 'bottom-right'  # clamped inside
    assert point_cell(1.5, -0.5) == 'top-right'
    assert point_cell(0.5, 0.5, 3) == 'centre'


def test_text_sequence_template():
    assert text_sequence_template() == (
        '{perception}Question: {question} Answer: {answer}')
    assert text_sequence_template('<image>Q: {question}', '\n') == (
        'Q: {question}\n{answer}')


def _boxes():
    # a wide box on the bottom right, a small one top right, a tall one on
    # the left, by falling score
    boxes = torch.tensor([[0.3, 0.55, 1.0, 0.9], [0.7, 0.1, 0.8, 0.2],
                          [0.0, 0.3, 0.3, 1.0]])
    return boxes, torch.tensor([0, 1, 2]), torch.tensor([0.9, 0.8, 0.7])


@pytest.mark.parametrize('sort, order', [
    ('score', 'circle, square, triangle'),
    ('position', 'square, triangle, circle'),  # by top, then left
    ('x', 'triangle, circle, square'),  # by centre x
    ('area', 'circle, triangle, square'),  # largest first
])
def test_sort_orders(sort, order):
    gen = DetectionPromptGenerator(template='{objects}',
                                    object_template='{name}',
                                    separator=', ', sort=sort)
    assert gen(*_boxes(), NAMES) == order


def test_box_text_styles():
    box = torch.tensor([[0.4, 0.5, 0.8, 0.9999]])
    one = (box, torch.tensor([0]), torch.ones(1), NAMES)
    kw = dict(template='{objects}', object_template='{box}')
    # centre (0.6, 0.75): right of and below the middle
    assert DetectionPromptGenerator(coord_style='grid', **kw)(
        *one) == 'bottom-right'
    assert DetectionPromptGenerator(coord_style='grid', grid_size=3,
                                     **kw)(*one) == 'bottom'
    assert DetectionPromptGenerator(**kw)(*one) == (
        '[0.400, 0.500, 0.800, 1.000]')
    assert DetectionPromptGenerator(coord_style='int999', **kw)(
        *one) == '[400, 500, 800, 999]'


def test_defaults_selection_and_drop():
    gen = DetectionPromptGenerator(template='{objects}',
                                    object_template='{name}',
                                    separator=' ')
    n = 12
    boxes = torch.rand(n, 4).sort(dim=1).values[:, [0, 1, 2, 3]]
    labels = torch.zeros(n, dtype=torch.long)
    scores = torch.linspace(1.0, 0.2, n)  # two below the 0.3 threshold
    # at most ten objects by default, highest score first
    objects = gen.select(boxes, labels, scores)
    assert torch.equal(objects.scores, scores[:10])
    assert len(gen(boxes, labels, scores, NAMES).split()) == 10
    assert len(gen(boxes, labels, scores, NAMES, num_drop=3).split()) == 7
    # no drop by default, even in training; a drop rate of 1 drops all
    assert len(gen.select(boxes, labels, scores, training=True)) == 10
    dropping = DetectionPromptGenerator(drop_rate=1.0)
    random.seed(0)
    assert len(dropping.select(boxes, labels, scores, training=True)) == 0
    assert len(dropping.select(boxes, labels, scores)) == 10
    assert dropping(boxes, labels, scores, NAMES) != dropping.empty_text
    assert dropping(boxes, labels, scores, NAMES, training=True) == \
        dropping.empty_text


@pytest.mark.parametrize('kwargs, match', [
    (dict(sort='size'), "^unknown sort 'size'$"),
    (dict(coord_style='polar'), "^unknown coord_style 'polar'$"),
    (dict(grid_size=4), '^grid_size must be 2 or 3, got 4$'),
])
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DetectionPromptGenerator(**kwargs)
