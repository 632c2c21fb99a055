"""CornerShapes: a small generated benchmark of the MR-MLLM premise.

An MLLM has seen a broad world through image-text data; a detector only its
narrow box-annotated data. Here:

- ``det_train``: boxes, *common* appearance only (plain fills of a fixed
  palette on a plain background), with questions too (as COCO's images
  carry both boxes and VQAv2 questions);
- ``vqa_train``: questions, no boxes (``has_det_ann=False``); half common,
  half *corner* images (textures, unseen colours, extreme sizes, heavy
  occlusion, clutter) - the broad image-text world;
- ``val`` (common), ``corner`` (corner) and ``novel`` (hollow outlines,
  gradient fills, rotations, colours and scenes used nowhere in training):
  boxes and questions, for evaluation.

Each image is a pure function of ``(seed, split, index)``; answers are
computed from the ground truth and are single words.
"""
import json
import os
import os.path as osp
import time
from collections import Counter
from typing import Dict, List, Optional, Sequence

import numpy as np
from PIL import Image

from .render import (
    ALL_COLOURS,
    COMMON_COLOURS,
    CORNER_COLOURS,
    NOVEL_COLOURS,
    SHAPES,
    TEXTURES,
    background,
    fill_pattern,
    mask_box,
    shape_mask,
)

CLASSES = ('circle', 'square', 'triangle')
SPLITS = ('det_train', 'vqa_train', 'val', 'corner', 'novel')
DEFAULT_SIZES = dict(
    det_train=1500, vqa_train=1500, val=150, corner=150, novel=100)
QUESTION_TYPES = ('existence', 'counting', 'colour', 'shape_at_position',
                  'relative_position')
# family of each split; vqa_train mixes common and corner images
SPLIT_FAMILY = dict(
    det_train='common',
    vqa_train='mixed',
    val='common',
    corner='corner',
    novel='novel')
SPLIT_HAS_BOXES = dict(
    det_train=True, vqa_train=False, val=True, corner=True, novel=True)
SPLIT_HAS_QUESTIONS = dict(
    det_train=True, vqa_train=True, val=True, corner=True, novel=True)
CORNER_ATTRIBUTES = ('texture', 'unseen_colour', 'tiny', 'huge', 'occluded')
NOVEL_ATTRIBUTES = ('hollow', 'gradient', 'novel_colour', 'rotated')
# vocabulary of the tokenizer in tokenizer/ (specials and alphabet included)
TOKENIZER_VOCAB = 256
QUADRANTS = ('top left', 'top right', 'bottom left', 'bottom right')


class _Obj:
    """One object being placed: its look, its masks and its box."""

    def __init__(self, shape, colour, size, fill, rotation, hollow,
                 appearance, attributes):
        self.shape = shape
        self.colour = colour
        self.size = size
        self.fill = fill
        self.rotation = rotation
        self.hollow = hollow
        self.appearance = appearance
        self.attributes = attributes
        self.mask = None
        self.visible = None
        self.box = None

    @property
    def centre(self):
        x1, y1, x2, y2 = self.box
        return (x1 + x2) / 2, (y1 + y2) / 2


def _sample_object(rng, appearance: str, classes: Sequence[str],
                   scale: float) -> _Obj:
    shape = str(rng.choice(classes))
    colours = COMMON_COLOURS
    size = rng.uniform(24, 48)
    fill, rotation, hollow = 'solid', 0.0, 0
    attributes: List[str] = []
    if appearance == 'corner':
        num = 1 if rng.random() < 0.7 else 2
        attributes = [
            str(a) for a in rng.choice(CORNER_ATTRIBUTES, num, replace=False)
        ]
        if 'tiny' in attributes and 'huge' in attributes:
            attributes.remove('huge')
        if 'texture' in attributes:
            fill = str(rng.choice(TEXTURES))
        if 'unseen_colour' in attributes:
            colours = CORNER_COLOURS
        if 'tiny' in attributes:
            size = rng.uniform(10, 15)
        if 'huge' in attributes:
            size = rng.uniform(62, 84)
    elif appearance == 'novel':
        choices = [a for a in NOVEL_ATTRIBUTES
                   if not (a == 'rotated' and shape == 'circle')]
        num = 1 if rng.random() < 0.6 else 2
        attributes = [str(a) for a in rng.choice(choices, num, replace=False)]
        if 'hollow' in attributes and 'gradient' in attributes:
            attributes.remove('gradient')
        if 'hollow' in attributes:
            hollow = 3
        if 'gradient' in attributes:
            fill = 'gradient'
        if 'novel_colour' in attributes:
            colours = NOVEL_COLOURS
        if 'rotated' in attributes:
            rotation = rng.uniform(20, 70)
    colour = str(rng.choice(list(colours)))
    return _Obj(shape, colour, size * scale, fill, rotation, hollow,
                appearance, sorted(attributes))


def _visible_fractions(objs: List[_Obj]) -> List[float]:
    """Visible mask of each object (later objects are drawn on top)."""
    covered = np.zeros_like(objs[0].mask)
    fractions = [0.0] * len(objs)
    for k in range(len(objs) - 1, -1, -1):
        obj = objs[k]
        obj.visible = obj.mask & ~covered
        fractions[k] = obj.visible.sum() / max(obj.mask.sum(), 1)
        covered |= obj.mask
    return fractions


def _touches_same_colour(objs: List[_Obj], obj: _Obj) -> bool:
    """Whether ``obj`` would touch an object of its colour (they would
    read as one blob)."""
    x1, y1, x2, y2 = mask_box(obj.mask)
    for other in objs:
        if other.colour != obj.colour:
            continue
        ox1, oy1, ox2, oy2 = mask_box(other.mask)
        if x1 < ox2 + 2 and ox1 < x2 + 2 and y1 < oy2 + 2 and oy1 < y2 + 2:
            return True
    return False


def _place(rng, objs: List[_Obj], obj: _Obj, canvas: int, min_visible,
           near: Optional[_Obj] = None, target=None, tries: int = 40) -> bool:
    """Put ``obj`` on top of ``objs`` without hiding them too much.

    Args:
        min_visible (float): Least visible fraction of every other object.
        near (_Obj, optional): Place ``obj`` over this object so that its
            visible fraction falls in ``target`` (heavy occlusion).
    """
    half = obj.size / 2 + 1
    lo, hi = half, canvas - half
    if hi <= lo:
        return False
    for _ in range(tries):
        if near is None:
            cx, cy = rng.uniform(lo, hi, size=2)
        else:
            ncx, ncy = near.centre
            angle = rng.uniform(0, 2 * np.pi)
            dist = rng.uniform(0.3, 0.8) * (near.size + obj.size) / 2
            cx = float(np.clip(ncx + dist * np.cos(angle), lo, hi))
            cy = float(np.clip(ncy + dist * np.sin(angle), lo, hi))
        obj.mask = shape_mask(obj.shape, cx, cy, obj.size, obj.rotation,
                              canvas, obj.hollow)
        if obj.mask.sum() < 20 or _touches_same_colour(objs, obj):
            continue
        trial = objs + [obj]
        fractions = _visible_fractions(trial)
        ok = all(f >= min_visible for o, f in zip(objs, fractions)
                 if o is not near)
        if near is not None:
            f = fractions[objs.index(near)]
            ok = ok and target[0] <= f <= target[1]
        if ok:
            objs.append(obj)
            return True
    return False


def _image_objects(rng, family: str, classes: Sequence[str], canvas: int):
    """Objects of one image and its background kind."""
    scale = canvas / 128.0
    if family == 'common':
        bg, min_visible, num = 'plain', 0.7, int(rng.integers(1, 5))
        looks = ['common'] * num
    elif family == 'corner':
        bg = 'clutter' if rng.random() < 0.5 else 'plain'
        min_visible, num = 0.6, int(rng.integers(2, 6))
        looks = ['corner' if rng.random() < 0.6 else 'common'
                 for _ in range(num)]
        looks[int(rng.integers(num))] = 'corner'
    elif family == 'novel':
        bg, min_visible, num = 'gradient', 0.7, int(rng.integers(1, 5))
        looks = ['novel' if rng.random() < 0.6 else 'common'
                 for _ in range(num)]
        looks[int(rng.integers(num))] = 'novel'
    else:
        raise ValueError(f'unknown family {family!r}')
    objs: List[_Obj] = []
    for look in looks:
        obj = _sample_object(rng, look, classes, scale)
        if not _place(rng, objs, obj, canvas, min_visible):
            continue
        if 'occluded' in obj.attributes:
            _visible_fractions(objs)
            obj.box = mask_box(obj.visible)
            occluder = _sample_object(rng, 'common', classes, scale)
            if not _place(rng, objs, occluder, canvas, min_visible,
                          near=obj, target=(0.3, 0.65)):
                obj.attributes.remove('occluded')
    if not objs:
        obj = _sample_object(rng, looks[0], classes, scale)
        obj.size = min(obj.size, canvas * 0.4)
        _place(rng, objs, obj, canvas, 0.0, tries=200)
    _visible_fractions(objs)
    for obj in objs:
        obj.box = mask_box(obj.visible)
    return objs, bg


def _render(objs: List[_Obj], bg: str, canvas: int, rng) -> np.ndarray:
    img = background(bg, canvas, rng)
    for obj in objs:
        rgb = fill_pattern(obj.fill, ALL_COLOURS[obj.colour], canvas,
                           mask_box(obj.mask))
        img[obj.mask] = rgb[obj.mask]
    return img


def _plural(shape: str) -> str:
    return shape + ('es' if shape.endswith(('s', 'x')) else 's')


def _questions(rng, objs: List[_Obj], classes: Sequence[str],
               family: str, canvas: int) -> List[dict]:
    """One question of each type that this image can answer unambiguously.

    Returns:
        list[dict]: ``{"question", "answers", "type"}`` entries.
    """
    qs = []
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
    qs.append(
        dict(
            question=f'Is there a {colour} {shape}?',
            answers=[answer],
            type='existence'))

    counts = Counter(o.shape for o in objs)
    shape = str(rng.choice(classes))
    qs.append(
        dict(
            question=f'How many {_plural(shape)} are there?',
            answers=[str(counts[shape])],
            type='counting'))

    unique = [o for o in objs if counts[o.shape] == 1]
    if unique:
        obj = unique[int(rng.integers(len(unique)))]
        qs.append(
            dict(
                question=f'What colour is the {obj.shape}?',
                answers=[obj.colour],
                type='colour'))

    mid, margin = canvas / 2, canvas * 6 / 128
    by_quadrant: Dict[str, List[_Obj]] = {q: [] for q in QUADRANTS}
    for obj in objs:
        cx, cy = obj.centre
        name = (('top' if cy < mid else 'bottom') + ' ' +
                ('left' if cx < mid else 'right'))
        by_quadrant[name].append(obj)
    clear = [
        q for q, members in by_quadrant.items() if len(members) == 1
        and abs(members[0].centre[0] - mid) >= margin
        and abs(members[0].centre[1] - mid) >= margin
    ]
    if clear:
        quadrant = clear[int(rng.integers(len(clear)))]
        qs.append(
            dict(
                question=f'What shape is in the {quadrant}?',
                answers=[by_quadrant[quadrant][0].shape],
                type='shape_at_position'))

    looks = Counter((o.colour, o.shape) for o in objs)
    named = [o for o in objs if looks[(o.colour, o.shape)] == 1]
    pairs = [(a, b) for a in named for b in named
             if a is not b and abs(a.centre[0] - b.centre[0]) >= 2 * margin]
    if pairs:
        a, b = pairs[int(rng.integers(len(pairs)))]
        answer = 'left' if a.centre[0] < b.centre[0] else 'right'
        qs.append(
            dict(
                question=(f'Is the {a.colour} {a.shape} left or right of '
                          f'the {b.colour} {b.shape}?'),
                answers=[answer],
                type='relative_position'))
    return qs


def generate_image(seed: int, split: str, index: int,
                   classes: Sequence[str] = CLASSES,
                   img_size: int = 128) -> dict:
    """Generate one image, its objects and questions.

    Returns:
        dict: ``image`` (``(H, W, 3)`` uint8 RGB), ``objects`` (list of
        dicts with ``shape``, ``colour``, ``bbox`` xyxy, ``area``,
        ``appearance``, ``attributes``) and ``questions``.
    """
    rng = np.random.default_rng([seed, SPLITS.index(split), index])
    family = SPLIT_FAMILY[split]
    if family == 'mixed':
        family_img = 'common' if rng.random() < 0.5 else 'corner'
    else:
        family_img = family
    objs, bg = _image_objects(rng, family_img, classes, img_size)
    image = _render(objs, bg, img_size, rng)
    questions = _questions(rng, objs, classes, family, img_size)
    objects = [
        dict(
            shape=o.shape,
            colour=o.colour,
            bbox=list(o.box),
            area=int(o.visible.sum()),
            appearance=o.appearance,
            attributes=list(o.attributes)) for o in objs
    ]
    return dict(
        image=image, objects=objects, questions=questions, background=bg)


def _split_records(out_dir, split, num, seed, classes, img_size, id_base):
    os.makedirs(osp.join(out_dir, 'images', split), exist_ok=True)
    images, anns, records = [], [], []
    for i in range(num):
        sample = generate_image(seed, split, i, classes, img_size)
        img_id = id_base + i + 1
        file_name = f'images/{split}/{i:06d}.png'
        Image.fromarray(sample['image']).save(
            osp.join(out_dir, file_name), compress_level=1)
        images.append(
            dict(
                id=img_id,
                file_name=file_name,
                width=img_size,
                height=img_size,
                background=sample['background']))
        for obj in sample['objects']:
            x1, y1, x2, y2 = obj['bbox']
            anns.append(
                dict(
                    id=len(anns) + 1,
                    image_id=img_id,
                    category_id=classes.index(obj['shape']) + 1,
                    bbox=[x1, y1, x2 - x1, y2 - y1],
                    area=obj['area'],
                    iscrowd=0,
                    corner=obj['appearance'] != 'common',
                    appearance=obj['appearance'],
                    colour=obj['colour'],
                    attributes=obj['attributes']))
        records.append(
            dict(
                image=file_name,
                image_id=img_id,
                width=img_size,
                height=img_size,
                questions=[
                    dict(id=img_id * 10 + k, **q)
                    for k, q in enumerate(sample['questions'])
                ]))
    return images, anns, records


def _answer_stats(records: List[dict], prior: Optional[dict]) -> dict:
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


def _write_tokenizer(out_dir: str, classes: Sequence[str],
                     question_records: Dict[str, list]) -> None:
    """A subword (BPE) tokenizer trained on the benchmark's text in
    ``tokenizer/``, for the LLM pre-trained on it (the language stage):
    every question and answer, class, colour and position name, and
    perception prompts of generated scenes in the main job's format."""
    from mmmrmllm.models.llm import train_subword_tokenizer
    from mmmrmllm.models.perception import PerceptionPromptGenerator

    from .text import TEXT_PROMPT, CornerShapesText
    texts = list(classes) + list(ALL_COLOURS) + list(QUADRANTS)
    # det_train asks the same templates; leaving it out keeps the tokenizer
    # independent of the detection split's size
    for split, records in question_records.items():
        if split == 'det_train':
            continue
        for rec in records:
            for q in rec.get('questions', []):
                texts.append(q['question'])
                texts.extend(q.get('answers', []))
    prompts = CornerShapesText(
        PerceptionPromptGenerator(**TEXT_PROMPT), classes, seed=1)
    texts += prompts.texts(2000)
    train_subword_tokenizer(
        texts, vocab_size=TOKENIZER_VOCAB,
        out_dir=osp.join(out_dir, 'tokenizer'))


def generate_cornershapes(out_dir: str,
                          sizes: Optional[Dict[str, int]] = None,
                          seed: int = 0,
                          img_size: int = 128,
                          classes: Sequence[str] = CLASSES) -> dict:
    """Write the CornerShapes benchmark to ``out_dir``.

    Layout: ``images/{split}/NNNNNN.png``; ``annotations/{split}.json``
    (COCO; objects carry ``corner``, ``appearance``, ``colour`` and
    ``attributes``) for splits with boxes; ``questions/{split}.json`` (the
    documented JSON format, without boxes) for splits with questions;
    ``stats.json`` (sizes, appearance counts, per-type answer distribution
    and majority-answer accuracy); ``tokenizer/``, a subword tokenizer
    trained on the benchmark's text (for the LLM pre-trained on it).

    Args:
        out_dir (str): Output folder.
        sizes (dict, optional): Images per split; missing splits take
            :data:`DEFAULT_SIZES`, 0 skips a split.
        seed (int): Random seed. Defaults to 0.
        img_size (int): Image side in pixels. Defaults to 128.
        classes (Sequence[str]): Shape classes, a subset of
            ``circle, square, triangle, star, cross``.

    Returns:
        dict: The statistics also written to ``stats.json``.
    """
    unknown = set(classes) - set(SHAPES)
    if unknown:
        raise ValueError(f'unknown shapes {sorted(unknown)}; choose from '
                         f'{SHAPES}')
    classes = tuple(classes)
    sizes = {**DEFAULT_SIZES, **(sizes or {})}
    for split in sizes:
        if split not in SPLITS:
            raise ValueError(f'unknown split {split!r}; splits: {SPLITS}')
    start = time.perf_counter()
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    os.makedirs(osp.join(out_dir, 'questions'), exist_ok=True)
    categories = [dict(id=k + 1, name=c) for k, c in enumerate(classes)]
    stats = dict(
        seed=seed, img_size=img_size, classes=list(classes), splits={})
    question_records = {}
    for k, split in enumerate(SPLITS):
        num = sizes[split]
        if not num:
            continue
        images, anns, records = _split_records(out_dir, split, num, seed,
                                               classes, img_size,
                                               (k + 1) * 1_000_000)
        info = dict(
            images=num,
            family=SPLIT_FAMILY[split],
            has_boxes=SPLIT_HAS_BOXES[split])
        if SPLIT_HAS_BOXES[split]:
            coco = dict(
                info=dict(description=f'CornerShapes {split}', seed=seed),
                images=images,
                annotations=anns,
                categories=categories)
            with open(osp.join(out_dir, 'annotations', f'{split}.json'),
                      'w') as f:
                json.dump(coco, f)
        info['objects'] = len(anns)
        info['objects_by_appearance'] = dict(
            Counter(a['appearance'] for a in anns))
        info['corner_attributes'] = dict(
            Counter(at for a in anns for at in a['attributes']))
        if SPLIT_HAS_QUESTIONS[split]:
            with open(osp.join(out_dir, 'questions', f'{split}.json'),
                      'w') as f:
                json.dump(
                    dict(
                        metainfo=dict(classes=list(classes)),
                        data_list=records), f)
            question_records[split] = records
        stats['splits'][split] = info
    prior = None
    if 'vqa_train' in question_records:
        train = _answer_stats(question_records['vqa_train'], None)
        prior = {
            t: e['majority_answer']
            for t, e in train['question_types'].items()
        }
    for split, records in question_records.items():
        stats['splits'][split].update(_answer_stats(records, prior))
    _write_tokenizer(out_dir, classes, question_records)
    stats['generation_time_s'] = round(time.perf_counter() - start, 2)
    with open(osp.join(out_dir, 'stats.json'), 'w') as f:
        json.dump(stats, f, indent=2)
    return stats
