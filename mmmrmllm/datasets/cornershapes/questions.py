"""CornerShapes questions: the templates and the other phrasings of each
type, which questions an image can answer unambiguously, and the answer
statistics of a split.

The position words are the perception prompt's cell names
(:func:`mmmrmllm.text.grid_cells`), so a question's quadrant reads as in
the prompt (``What shape is in the top-left?`` - ``top-left circle``); each
is one word, and one token of the benchmark's tokenizer. Other phrasings
write a quadrant as people do (``top left``, ``upper left``).

Each type has one template (:data:`TEMPLATES`), asked by the evaluation
splits so that their numbers stay comparable; training draws from
:data:`TRAIN_PHRASINGS` (the template among them), and the ``val_phrasing``
split asks ``val``'s questions in :data:`HELDOUT_PHRASINGS`, phrasings
that training never uses.
"""
import re
from collections import Counter
from string import Formatter
from typing import Dict, List, NamedTuple, Optional, Sequence

import numpy as np

from mmmrmllm.text import grid_cells, plural, point_cell

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

# One template per type (slots: shape, shapes (the plural), colour,
# quadrant, a and b (``<colour> <shape>``)).
TEMPLATES = dict(
    existence='Is there a {colour} {shape}?',
    counting='How many {shapes} are there?',
    colour='What colour is the {shape}?',
    shape_at_position='What shape is in the {quadrant}?',
    relative_position='Is the {a} left or right of the {b}?')
# Existence without a colour: any object of the shape counts.
ANY_COLOUR_TEMPLATE = 'Is there a {shape}?'
# Phrasings drawn in training, the template first. Key
# 'existence_any_colour': existence questions that name no colour (POPE
# asks ``Is there a {class} in the image?``).
TRAIN_PHRASINGS: Dict[str, tuple] = dict(
    existence=(TEMPLATES['existence'],
               'Is there a {colour} {shape} in the image?',
               'do you see a {colour} {shape}',
               'Is there any {colour} {shape}?'),
    existence_any_colour=(ANY_COLOUR_TEMPLATE,
                          'Is there a {shape} in the image?',
                          'do you see a {shape}',
                          'Are there any {shapes}?'),
    counting=(TEMPLATES['counting'],
              'how many {shapes} do you see',
              'Count the {shapes}.',
              'How many {shapes} are in the image?',
              'Number of {shapes}?'),
    colour=(TEMPLATES['colour'],
            'What color is the {shape}?',
            'Which colour is the {shape}?',
            'What is the colour of the {shape}?',
            'what is the color of the {shape}',
            'The {shape} is what colour?'),
    shape_at_position=(TEMPLATES['shape_at_position'],
                       'What shape is at the {quadrant}?',
                       'What is in the {quadrant}?',
                       'Which shape is in the {quadrant} corner?'),
    relative_position=(TEMPLATES['relative_position'],
                       'Is the {a} to the left or right of the {b}?',
                       'is the {a} on the left or the right of the {b}'))
# Phrasings that training never uses (the ``val_phrasing`` split): the
# training phrasings' words in orders and combinations of their own.
HELDOUT_PHRASINGS: Dict[str, tuple] = dict(
    existence=('Do you see any {colour} {shape} in the image?',
               'In the image, is there a {colour} {shape}?'),
    counting=('In the image, how many {shapes} do you see?',
              'Count how many {shapes} there are.'),
    colour=('In the image, what color is the {shape}?',
            'What is the color of the {shape} in the image?'),
    shape_at_position=('Which shape do you see in the {quadrant}?',
                       'What shape is in the {quadrant} of the image?'),
    relative_position=('Do you see the {a} left or right of the {b}?',
                       'In the image, is the {a} to the left or right of '
                       'the {b}?'))
# How people write a quadrant (the prompt's cell name first).
QUADRANT_WORDS = {
    q: (q, q.replace('-', ' '),
        q.replace('top', 'upper').replace('bottom', 'lower').replace(
            '-', ' '))
    for q in QUADRANTS
}
PHRASING_STYLES = ('template', 'train', 'heldout')


class Phrasing:
    """How the questions of an image are worded.

    Args:
        style (str): ``'template'`` (:data:`TEMPLATES`, nothing drawn),
            ``'train'`` (:data:`TRAIN_PHRASINGS`) or ``'heldout'``
            (:data:`HELDOUT_PHRASINGS`).
        rng (np.random.Generator, optional): Draws the phrasing, the
            quadrant's words and the rest below; needed unless the style
            is ``'template'``. A stream of its own, so the wording never
            changes an image or which questions it asks.
        any_colour_prob (float): ``'train'``: how often an existence
            question names no colour.
        drop_mark_prob (float): ``'train'``: how often a question loses
            its final ``?`` or ``.`` (people often leave it out).
    """

    def __init__(self,
                 style: str = 'template',
                 rng: Optional[np.random.Generator] = None,
                 any_colour_prob: float = 0.3,
                 drop_mark_prob: float = 0.25) -> None:
        if style not in PHRASING_STYLES:
            raise ValueError(f'unknown phrasing style {style!r}; choose '
                             f'from {PHRASING_STYLES}')
        if style != 'template' and rng is None:
            raise ValueError(f'phrasing style {style!r} needs an rng')
        self.style = style
        self.rng = rng
        self.any_colour_prob = any_colour_prob
        self.drop_mark_prob = drop_mark_prob

    def _pick(self, options: Sequence[str]) -> str:
        return options[int(self.rng.integers(len(options)))]

    def any_colour(self) -> bool:
        """Whether this existence question names no colour."""
        return self.style == 'train' and \
            self.rng.random() < self.any_colour_prob

    def __call__(self, kind: str, **slots: str) -> str:
        """The question of ``kind`` (a type, or ``'existence_any_colour'``)
        with ``slots`` filled in."""
        if self.style == 'template':
            template = ANY_COLOUR_TEMPLATE \
                if kind == 'existence_any_colour' else TEMPLATES[kind]
            return template.format(**slots)
        pool = TRAIN_PHRASINGS if self.style == 'train' \
            else HELDOUT_PHRASINGS
        template = self._pick(pool[kind])
        if 'quadrant' in slots:
            slots['quadrant'] = self._pick(QUADRANT_WORDS[slots['quadrant']])
        text = template.format(**slots)
        if self.style == 'train' and text[-1] in '?.' and \
                self.rng.random() < self.drop_mark_prob:
            text = text[:-1]
        return text


TEMPLATE = Phrasing()
# what each slot of a phrasing matches when it is read back
_SLOT_PATTERNS = dict(shape=r'\w+', shapes=r'\w+', colour=r'\w+',
                      quadrant=r'[\w -]+?', a=r'\w+ \w+', b=r'\w+ \w+')
_QUADRANT_OF = {w: q for q, words in QUADRANT_WORDS.items() for w in words}


def _phrasing_regex(template: str) -> 're.Pattern':
    """``template`` as a pattern: its slots as named groups, the final
    mark optional, any case, any spaces."""
    mark = template[-1] if template[-1] in '?.' else ''
    body = template[:len(template) - len(mark)]
    pattern = ''
    for literal, slot, _, _ in Formatter().parse(body):
        pattern += r'\s+'.join(re.escape(w) for w in literal.split(' '))
        if slot is not None:
            pattern += f'(?P<{slot}>{_SLOT_PATTERNS[slot]})'
    if mark:
        pattern += re.escape(mark) + '?'
    return re.compile(r'\s*' + pattern + r'\s*', re.IGNORECASE)


_PHRASING_REGEXES = [
    (kind, t, _phrasing_regex(t))
    for pool in (TRAIN_PHRASINGS, HELDOUT_PHRASINGS)
    for kind, templates in pool.items() for t in templates
]


class ParsedQuestion(NamedTuple):
    """A question read back: the phrasing's kind (a question type, or
    ``'existence_any_colour'``), the phrasing and its slots."""
    kind: str
    phrasing: str
    slots: Dict[str, str]


def parse_question(text: str) -> Optional[ParsedQuestion]:
    """Read a CornerShapes question back, in any of its phrasings.

    Args:
        text (str): A question (any case, spaces and final mark).

    Returns:
        ParsedQuestion | None: The slots are lower case, a quadrant as its
        cell name (``top-left``); None if no phrasing matches.
    """
    for kind, phrasing, regex in _PHRASING_REGEXES:
        m = regex.fullmatch(text)
        if m is None:
            continue
        slots = {k: ' '.join(v.lower().split())
                 for k, v in m.groupdict().items()}
        if 'quadrant' in slots:
            if slots['quadrant'] not in _QUADRANT_OF:
                continue
            slots['quadrant'] = _QUADRANT_OF[slots['quadrant']]
        return ParsedQuestion(kind, phrasing, slots)
    return None


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
