"""The colour counterfactual: one object repainted, the question asked
again; the counts say whether the answers followed the paint."""
import numpy as np
from PIL import Image

from mmmrmllm.analysis.counterfactual import (
    COMMON_COLOURS,
    colour_question,
    recolour_counterfactual,
)
from mmmrmllm.datasets.cornershapes import generate_image
from mmmrmllm.datasets.cornershapes.render import ALL_COLOURS


class Seeing:
    """Answers with the common colour nearest to the asked object's
    pixels (it knows where the object is: the scene's ground truth)."""

    def __init__(self, split='val'):
        self.split = split

    def perceive(self, path):
        return path

    def ask(self, path, question):
        index = int(path.rsplit('/', 1)[-1].split('_')[0])
        k, _ = colour_question(generate_image(0, self.split, index))
        box = generate_image(0, self.split, index)['objects'][k]['bbox']
        img = np.asarray(Image.open(path)).astype(float)
        x1, y1, x2, y2 = box
        patch = img[y1:y2 + 1, x1:x2 + 1].reshape(-1, 3)
        names = list(COMMON_COLOURS)
        dist = [np.abs(patch - np.array(ALL_COLOURS[n])).sum(1) for n in
                names]
        votes = np.bincount(np.argmin(np.stack(dist), 0),
                            minlength=len(names))
        return dict(answer=names[int(votes.argmax())])


class Blind(Seeing):

    def ask(self, path, question):
        return dict(answer='red')


def test_answers_that_follow_the_paint_are_counted():
    res = recolour_counterfactual(Seeing(), range(40), limit=4)
    assert len(res['images']) == 4
    assert res['total'] == 16
    assert res['changed'] == 4
    assert res['correct'] == 16
    for row in res['images']:
        assert row['question'].startswith('What colour is the ')
        assert set(row['answers']) == set(COMMON_COLOURS)


def test_a_blind_model_changes_nothing():
    res = recolour_counterfactual(Blind(), range(40), limit=4)
    assert res['changed'] == 0
    assert res['correct'] == 4  # right only where the paint is red


def test_colour_question_names_the_asked_object():
    found = 0
    for i in range(30):
        sample = generate_image(0, 'val', i)
        hit = colour_question(sample)
        qs = [q for q in sample['questions'] if q['type'] == 'colour']
        assert (hit is None) == (not qs)
        if hit:
            k, question = hit
            obj = sample['objects'][k]
            assert question == qs[0]['question']
            assert obj['colour'] == qs[0]['answers'][0]
            assert question.endswith(f' {obj["shape"]}?')
            found += 1
    assert found >= 10
