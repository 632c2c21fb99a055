"""CornerShapes questions: which of them an image can answer
unambiguously, their answers, and the answer statistics of a split. Their
wording is :mod:`.phrasings`'.

The templates' position words are the perception prompt's cell names
(:func:`mmmrmllm.text.grid_cells`), so a question's quadrant reads as in
the prompt (``What shape is in the top-left?`` - ``top-left circle``); each
is one word, and one token of the benchmark's tokenizer.
"""
from collections import Counter
from typing import Dict, List, Optional, Sequence

from mmmrmllm.text import grid_cells, plural, point_cell

from .phrasings import TEMPLATE, Phrasing
from .render import (
    ALL_COLOURS,
    COMMON_COLOURS,
    CORNER_COLOURS,
    NOVEL_COLOURS,
    SHAPES,
)
from .scene import SceneObject

QUESTION_TYPES = ('existence', 'counting', 'colour', 'shape_at_position',
                  'relative_position')
QUADRANTS = grid_cells(2)
# The answers a question of each type can have: ``'number'`` (a count) or
# its words (VQAAccuracy counts an answer outside them as a type mismatch).
ANSWER_TYPES = dict(
    existence=('yes', 'no'),
    counting='number',
    colour=tuple(ALL_COLOURS),
    shape_at_position=SHAPES,
    relative_position=('left', 'right'))

def _question(text: str, answer: str, qtype: str) -> dict:
    return dict(question=text, answers=[answer], type=qtype)


def counting_question(shape: str, count: int,
                      phrasing: Phrasing = TEMPLATE) -> dict:
    """``How many <shapes> are there?`` (or another phrasing)."""
    return _question(phrasing('counting', shapes=plural(shape)), str(count),
                     'counting')


def shape_question(quadrant: str, shape: str,
                   phrasing: Phrasing = TEMPLATE) -> dict:
    """``What shape is in the <quadrant>?`` (or another phrasing)."""
    return _question(phrasing('shape_at_position', quadrant=quadrant),
                     shape, 'shape_at_position')


def _margin(canvas: int) -> float:
    """Least distance of an object's centre from the middle lines for its
    position to count as clear."""
    return canvas * 6 / 128


def clear_quadrants(objs: Sequence[SceneObject],
                    canvas: int) -> Dict[str, SceneObject]:
    """The quadrants that a question can ask about: one object in them,
    its centre clear of the middle lines.

    Args:
        objs (Sequence[SceneObject]): Placed objects.
        canvas (int): Image side in pixels.

    Returns:
        dict[str, SceneObject]: Quadrant name → its object, in
        :data:`QUADRANTS` order.
    """
    mid, margin = canvas / 2, _margin(canvas)
    by_quadrant: Dict[str, List[SceneObject]] = {q: [] for q in QUADRANTS}
    for obj in objs:
        cx, cy = obj.centre
        by_quadrant[point_cell(cx / canvas, cy / canvas)].append(obj)
    return {
        q: members[0]
        for q, members in by_quadrant.items() if len(members) == 1
        and abs(members[0].centre[0] - mid) >= margin
        and abs(members[0].centre[1] - mid) >= margin
    }


def _existence(rng, objs: Sequence[SceneObject], classes: Sequence[str],
               family: str, phrasing: Phrasing) -> dict:
    """``Is there a <colour> <shape>?``: yes or no, half and half. A
    phrasing that names no colour asks of the shape alone (any object of
    it is a yes), its yes or no drawn from the phrasing's own stream."""
    present = {(o.colour, o.shape) for o in objs}
    palette = list(COMMON_COLOURS)
    if family in ('corner', 'mixed'):
        palette += list(CORNER_COLOURS)
    if family == 'novel':
        palette += list(NOVEL_COLOURS)
    palette += [o.colour for o in objs if o.colour not in palette]
    if rng.random() < 0.5:
        obj = objs[int(rng.integers(len(objs)))]
        colour, shape, answer = obj.colour, obj.shape, 'yes'
    else:
        absent = [(c, s) for c in palette for s in classes
                  if (c, s) not in present]
        colour, shape = absent[int(rng.integers(len(absent)))]
        answer = 'no'
    if phrasing.any_colour():
        shapes = {o.shape for o in objs}
        absent_shapes = [s for s in classes if s not in shapes]
        prng = phrasing.rng
        if absent_shapes and prng.random() < 0.5:
            shape = absent_shapes[int(prng.integers(len(absent_shapes)))]
        else:
            shape = objs[int(prng.integers(len(objs)))].shape
        return _question(
            phrasing('existence_any_colour', shape=shape,
                     shapes=plural(shape)),
            'yes' if shape in shapes else 'no', 'existence')
    return _question(phrasing('existence', colour=colour, shape=shape),
                     answer, 'existence')


def _colour(rng, objs: Sequence[SceneObject],
            phrasing: Phrasing) -> Optional[dict]:
    """``What colour is the <shape>?`` of a shape that occurs once."""
    counts = Counter(o.shape for o in objs)
    unique = [o for o in objs if counts[o.shape] == 1]
    if not unique:
        return None
    obj = unique[int(rng.integers(len(unique)))]
    return _question(phrasing('colour', shape=obj.shape), obj.colour,
                     'colour')


def _shape_at_position(rng, objs: Sequence[SceneObject], canvas: int,
                       phrasing: Phrasing) -> Optional[dict]:
    clear = clear_quadrants(objs, canvas)
    if not clear:
        return None
    quadrants = list(clear)
    quadrant = quadrants[int(rng.integers(len(quadrants)))]
    return shape_question(quadrant, clear[quadrant].shape, phrasing)


def _relative_position(rng, objs: Sequence[SceneObject], canvas: int,
                       phrasing: Phrasing) -> Optional[dict]:
    """``Is the <a> left or right of the <b>?`` for two objects of unique
    looks whose centres are clearly apart."""
    margin = _margin(canvas)
    looks = Counter((o.colour, o.shape) for o in objs)
    named = [o for o in objs if looks[(o.colour, o.shape)] == 1]
    pairs = [(a, b) for a in named for b in named
             if a is not b and abs(a.centre[0] - b.centre[0]) >= 2 * margin]
    if not pairs:
        return None
    a, b = pairs[int(rng.integers(len(pairs)))]
    answer = 'left' if a.centre[0] < b.centre[0] else 'right'
    return _question(
        phrasing('relative_position', a=f'{a.colour} {a.shape}',
                 b=f'{b.colour} {b.shape}'), answer, 'relative_position')


def image_questions(rng, objs: Sequence[SceneObject], classes: Sequence[str],
                    family: str, canvas: int,
                    phrasing: Phrasing = TEMPLATE) -> List[dict]:
    """One question of each type that this image can answer unambiguously.

    Args:
        rng (np.random.Generator): Random source.
        objs (Sequence[SceneObject]): The image's placed objects.
        classes (Sequence[str]): Shape classes.
        family (str): The split's family (``'common'``, ``'mixed'``,
            ``'corner'``, ``'novel'``): the colours an existence question
            may name.
        canvas (int): Image side in pixels.
        phrasing (Phrasing): How the questions are worded (the templates
            by default). It draws from its own stream, so ``rng`` draws
            the same whatever the wording.

    Returns:
        list[dict]: ``{"question", "answers", "type"}`` entries.
    """
    qs = [_existence(rng, objs, classes, family, phrasing)]
    counts = Counter(o.shape for o in objs)
    shape = str(rng.choice(classes))
    qs.append(counting_question(shape, counts[shape], phrasing))
    for ask in (_colour(rng, objs, phrasing),
                _shape_at_position(rng, objs, canvas, phrasing),
                _relative_position(rng, objs, canvas, phrasing)):
        if ask is not None:
            qs.append(ask)
    return qs


def answer_stats(records: List[dict], prior: Optional[dict]) -> dict:
    """Per question type: how many, the answer distribution and the
    accuracy of always giving the majority answer (and the training
    split's majority answer, ``prior``, where given).

    Args:
        records (list[dict]): A split's question records.
        prior (dict, optional): Question type → the training split's
            majority answer.

    Returns:
        dict: ``question_types``, ``questions``, ``majority_acc`` (and
        ``train_prior_acc``).
    """
    by_type: Dict[str, Counter] = {t: Counter() for t in QUESTION_TYPES}
    for rec in records:
        for q in rec['questions']:
            by_type[q['type']][q['answers'][0]] += 1
    out = dict(question_types={})
    total = hits = prior_hits = 0
    for qtype, counter in by_type.items():
        n = sum(counter.values())
        if not n:
            continue
        answer, count = counter.most_common(1)[0]
        entry = dict(
            count=n,
            answers=dict(counter.most_common()),
            majority_answer=answer,
            majority_acc=round(count / n, 4))
        total += n
        hits += count
        if prior is not None and qtype in prior:
            prior_answer = prior[qtype]
            entry['train_prior_answer'] = prior_answer
            entry['train_prior_acc'] = round(counter[prior_answer] / n, 4)
            prior_hits += counter[prior_answer]
        out['question_types'][qtype] = entry
    out['questions'] = total
    out['majority_acc'] = round(hits / total, 4) if total else None
    if prior is not None and total:
        out['train_prior_acc'] = round(prior_hits / total, 4)
    return out
