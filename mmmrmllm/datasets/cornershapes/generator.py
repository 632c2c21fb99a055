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
  boxes and questions, for evaluation;
- ``val_phrasing``: ``val``'s images and questions, worded in phrasings
  that training never uses (``questions/val_phrasing.json`` only).

The training splits word each question in a phrasing drawn from
:data:`~.questions.TRAIN_PHRASINGS`; the evaluation splits ask each type's
template, so that their numbers stay comparable.

Each image is a pure function of ``(seed, split, index)``; answers are
computed from the ground truth and are single words.
"""
import json
import os
import os.path as osp
import time
from collections import Counter
from typing import Dict, Optional, Sequence

import numpy as np
from PIL import Image

from .phrasings import Phrasing
from .questions import QUESTION_TYPES, answer_stats, image_questions
from .render import ALL_COLOURS, SHAPES
from .scene import CLASSES, image_objects, render_objects
from .tokenizer_corpus import TOKENIZER_VOCAB, write_tokenizer

SPLITS = ('det_train', 'vqa_train', 'val', 'corner', 'novel')
DEFAULT_SIZES = dict(
    det_train=1500, vqa_train=1500, val=150, corner=150, novel=100)
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
# how each split's questions are worded (see questions.Phrasing)
SPLIT_PHRASING = dict(
    det_train='train',
    vqa_train='train',
    val='template',
    corner='template',
    novel='template')
# val's images and questions in the held-out phrasings
HELDOUT_SPLIT = 'val_phrasing'
# the phrasing's random stream, apart from the image's
_PHRASING_STREAM = 31

__all__ = [
    'CLASSES', 'SPLITS', 'DEFAULT_SIZES', 'QUESTION_TYPES', 'SPLIT_FAMILY',
    'SPLIT_HAS_BOXES', 'SPLIT_HAS_QUESTIONS', 'SPLIT_PHRASING',
    'HELDOUT_SPLIT', 'TOKENIZER_VOCAB',
    'generate_image', 'generate_cornershapes'
]


def generate_image(seed: int, split: str, index: int,
                   classes: Sequence[str] = CLASSES,
                   img_size: int = 128,
                   recolour: Optional[Dict[int, str]] = None,
                   phrasing: Optional[str] = None) -> dict:
    """Generate one image, its objects and questions.

    ``recolour`` (object index → colour name) changes those objects'
    colours and nothing else (same places, sizes, looks and background):
    the counterfactual image of a colour question. ``phrasing`` (a
    :class:`~.questions.Phrasing` style; default: the split's,
    :data:`SPLIT_PHRASING`) words the questions and changes nothing else.

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
    objs, bg = image_objects(rng, family_img, classes, img_size)
    for k, colour in (recolour or {}).items():
        if colour not in ALL_COLOURS:
            raise ValueError(f'recolour: unknown colour {colour!r}')
        objs[k].colour = colour
    image = render_objects(objs, bg, img_size, rng)
    style = SPLIT_PHRASING[split] if phrasing is None else phrasing
    wording = Phrasing(style, np.random.default_rng(
        [seed, SPLITS.index(split), index, _PHRASING_STREAM]))
    questions = image_questions(rng, objs, classes, family, img_size,
                                wording)
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


def _heldout_records(records: list, seed: int, classes: Sequence[str],
                     img_size: int) -> list:
    """``val``'s question records worded in the held-out phrasings: the
    same images, questions, ids and answers."""
    out = []
    for i, rec in enumerate(records):
        qs = generate_image(seed, 'val', i, classes, img_size,
                            phrasing='heldout')['questions']
        same = [(q['answers'], q['type']) for q in qs] == [
            (q['answers'], q['type']) for q in rec['questions']]
        if not same:
            raise RuntimeError(f'val image {i}: the held-out phrasings ask '
                               'other questions than the templates')
        out.append(dict(rec, questions=[
            dict(q, question=h['question'])
            for q, h in zip(rec['questions'], qs)
        ]))
    return out


def _dump(path: str, obj) -> None:
    with open(path, 'w') as f:
        json.dump(obj, f)


def _check_args(sizes: Optional[Dict[str, int]],
                classes: Sequence[str]):
    """``classes`` as a tuple and every split's size, or an error naming
    an unknown shape or split."""
    unknown = set(classes) - set(SHAPES)
    if unknown:
        raise ValueError(f'unknown shapes {sorted(unknown)}; choose from '
                         f'{SHAPES}')
    sizes = {**DEFAULT_SIZES, **(sizes or {})}
    for split in sizes:
        if split not in SPLITS:
            raise ValueError(f'unknown split {split!r}; splits: {SPLITS}')
    return tuple(classes), sizes


def _write_split(out_dir: str, split: str, num: int, seed: int,
                 classes: Sequence[str], img_size: int):
    """Images, COCO annotations and questions of one split.

    Returns:
        tuple[dict, list[dict] | None]: The split's statistics (without
        the answer statistics) and its question records (None for a split
        without questions).
    """
    id_base = (SPLITS.index(split) + 1) * 1_000_000
    images, anns, records = _split_records(out_dir, split, num, seed,
                                           classes, img_size, id_base)
    info = dict(
        images=num,
        family=SPLIT_FAMILY[split],
        has_boxes=SPLIT_HAS_BOXES[split])
    if SPLIT_HAS_BOXES[split]:
        categories = [dict(id=k + 1, name=c) for k, c in enumerate(classes)]
        _dump(
            osp.join(out_dir, 'annotations', f'{split}.json'),
            dict(
                info=dict(description=f'CornerShapes {split}', seed=seed),
                images=images,
                annotations=anns,
                categories=categories))
    info['objects'] = len(anns)
    info['objects_by_appearance'] = dict(
        Counter(a['appearance'] for a in anns))
    info['corner_attributes'] = dict(
        Counter(at for a in anns for at in a['attributes']))
    if not SPLIT_HAS_QUESTIONS[split]:
        return info, None
    _dump(
        osp.join(out_dir, 'questions', f'{split}.json'),
        dict(metainfo=dict(classes=list(classes)), data_list=records))
    return info, records


def _add_answer_stats(stats: dict, question_records: Dict[str, list]):
    """Each split's answer statistics, with the accuracy of the training
    split's majority answers where ``vqa_train`` was written."""
    prior = None
    if 'vqa_train' in question_records:
        train = answer_stats(question_records['vqa_train'], None)
        prior = {
            t: e['majority_answer']
            for t, e in train['question_types'].items()
        }
    for split, records in question_records.items():
        stats['splits'][split].update(answer_stats(records, prior))


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
    ``questions/val_phrasing.json``, ``val``'s questions in the held-out
    phrasings (:data:`~.questions.HELDOUT_PHRASINGS`), when ``val`` is
    written; ``stats.json`` (sizes, appearance counts, per-type answer
    distribution and majority-answer accuracy); ``tokenizer/``, a subword
    tokenizer trained on the benchmark's text (for the LLM pre-trained on
    it).

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
    classes, sizes = _check_args(sizes, classes)
    start = time.perf_counter()
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    os.makedirs(osp.join(out_dir, 'questions'), exist_ok=True)
    stats = dict(
        seed=seed, img_size=img_size, classes=list(classes), splits={})
    question_records = {}
    for split in SPLITS:
        if not sizes[split]:
            continue
        info, records = _write_split(out_dir, split, sizes[split], seed,
                                     classes, img_size)
        if records is not None:
            question_records[split] = records
        stats['splits'][split] = info
    # the tokenizer learns from the splits' own text; the held-out
    # phrasings use no word that training does not
    write_tokenizer(out_dir, classes, question_records)
    if 'val' in question_records:
        heldout = _heldout_records(question_records['val'], seed, classes,
                                   img_size)
        _dump(
            osp.join(out_dir, 'questions', f'{HELDOUT_SPLIT}.json'),
            dict(metainfo=dict(classes=list(classes)), data_list=heldout))
        question_records[HELDOUT_SPLIT] = heldout
        val = stats['splits']['val']
        stats['splits'][HELDOUT_SPLIT] = dict(
            images=len(heldout), family=SPLIT_FAMILY['val'],
            has_boxes=False, images_of='val', objects=val['objects'],
            objects_by_appearance=val['objects_by_appearance'])
    _add_answer_stats(stats, question_records)
    stats['generation_time_s'] = round(time.perf_counter() - start, 2)
    with open(osp.join(out_dir, 'stats.json'), 'w') as f:
        json.dump(stats, f, indent=2)
    return stats
