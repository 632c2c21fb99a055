"""How CornerShapes questions are worded: each type's template, the other
phrasings training draws from, the held-out ones, and reading a question
back in any of them.

Each type has one template (:data:`TEMPLATES`), asked by the evaluation
splits so that their numbers stay comparable; training draws from
:data:`TRAIN_PHRASINGS` (the template among them), and the ``val_phrasing``
split asks ``val``'s questions in :data:`HELDOUT_PHRASINGS`, phrasings
that training never uses. Other phrasings than the templates write a
quadrant as people do (``top left``, ``upper left``).
"""
import re
from string import Formatter
from typing import Dict, NamedTuple, Optional, Sequence

import numpy as np

from mmmrmllm.text import grid_cells

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
                          'Are there any {shapes}?',
                          'In the image, are there any {shapes}?'),
    counting=(TEMPLATES['counting'],
              'how many {shapes} do you see',
              'Count the {shapes}.',
              'How many {shapes} are in the image?',
              'How many {shapes} do you see in the image?',
              'Number of {shapes}?'),
    colour=(TEMPLATES['colour'],
            'What color is the {shape}?',
            'Which colour is the {shape}?',
            'What is the colour of the {shape}?',
            'what is the color of the {shape}',
            'The {shape} is what colour?',
            'What colour is the {shape} in the image?',
            'In the image, the {shape} is what color?'),
    shape_at_position=(TEMPLATES['shape_at_position'],
                       'What shape is at the {quadrant}?',
                       'What is in the {quadrant}?',
                       'Which shape is in the {quadrant} corner?',
                       'What shape do you see at the {quadrant}?',
                       'In the image, what is in the {quadrant}?'),
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
    for q in grid_cells(2)
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
