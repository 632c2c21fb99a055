"""POPE probes from COCO-format annotations.

POPE (Li et al., "Evaluating Object Hallucination in Large Vision-Language
Models", EMNLP 2023) polls a model with "Is there a {class} in the image?"
about classes that are in the image (answer "yes") and as many that are not
("no"), the absent ones drawn three ways: ``random``, ``popular`` (the most
frequent classes) and ``adversarial`` (the classes that co-occur most with
the image's own). :func:`build_pope_questions` writes them in the
documented question format (docs/data_format.md), every question typed
``pope_<sampling>`` with its answer ``yes`` or ``no``, for
:class:`~mmmrmllm.evaluation.POPEMetric`.
"""
import os
import os.path as osp
import random
from collections import Counter, defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

from .converting import write_json
from .formats import FormatError, load_json

SAMPLINGS = ('random', 'popular', 'adversarial')
TEMPLATE = 'Is there a {} in the image?'
TYPE_PREFIX = 'pope_'


def pope_question(name: str, template: str = TEMPLATE) -> str:
    """The probe about one class: "Is there a/an {name} in the image?".

    Args:
        name (str): Class name.
        template (str): With one ``{}`` for the name; ``a {}`` becomes
            ``an {}`` before a vowel, as in POPE's released files.

    Returns:
        str: The question.
    """
    if name[:1].lower() in 'aeiou':
        template = template.replace(' a {}', ' an {}')
    return template.format(name)


def image_classes(coco: dict) -> Dict[int, List[str]]:
    """The distinct classes annotated in each image.

    Args:
        coco (dict): A COCO-format annotation file's content.

    Returns:
        dict[int, list[str]]: Class names per image id (every image, possibly
        ``[]``), in the order of ``categories``.
    """
    names = {c['id']: c['name'] for c in coco['categories']}
    order = {c['name']: k for k, c in enumerate(coco['categories'])}
    found = {img['id']: set() for img in coco['images']}
    for ann in coco.get('annotations', []):
        if ann['image_id'] in found:
            found[ann['image_id']].add(names[ann['category_id']])
    return {i: sorted(s, key=order.get) for i, s in found.items()}


def class_statistics(
        objects: Sequence[Sequence[str]]
) -> Tuple[Counter, Dict[str, Counter]]:
    """How often each class is in an image, and with which others.

    Args:
        objects (Sequence[Sequence[str]]): The distinct classes of each
            image.

    Returns:
        tuple[Counter, dict[str, Counter]]: Images per class, and per class
        the images it shares with each other class.
    """
    frequency = Counter()
    co_occur = defaultdict(Counter)
    for classes in objects:
        frequency.update(classes)
        for a in classes:
            co_occur[a].update(b for b in classes if b != a)
    return frequency, co_occur


def _ranked(counts: Counter, candidates: Sequence[str]) -> List[str]:
    """``candidates`` with a count above 0, most counted first (ties keep
    the candidates' order)."""
    return sorted((c for c in candidates if counts[c] > 0),
                  key=lambda c: -counts[c])


def sample_negatives(sampling: str, positives: Sequence[str],
                     absent: Sequence[str], frequency: Counter,
                     co_occur: Dict[str, Counter],
                     rng: random.Random) -> List[str]:
    """One absent class per positive, as POPE's reference code draws them.

    ``random``: uniformly among the absent classes. ``popular``: the most
    frequent absent classes. ``adversarial``: for each positive in turn,
    the absent class that co-occurs with it most often, a random one when
    none does. Never a class twice.

    Args:
        sampling (str): One of :data:`SAMPLINGS`.
        positives (Sequence[str]): Classes in the image that are asked
            about.
        absent (Sequence[str]): Classes not in the image, at least as many
            as ``positives``, in category order (the tie-break).
        frequency (Counter): See :func:`class_statistics`.
        co_occur (dict[str, Counter]): See :func:`class_statistics`.
        rng (random.Random): Draws the random choices.

    Returns:
        list[str]: ``len(positives)`` negatives.
    """
    k = len(positives)
    if sampling == 'random':
        return rng.sample(list(absent), k)
    if sampling == 'popular':
        # classes never seen rank last, in category order
        ranked = _ranked(frequency, absent)
        return (ranked + [c for c in absent if c not in ranked])[:k]
    if sampling != 'adversarial':
        raise ValueError(f'unknown POPE sampling {sampling!r}; expected one '
                         f'of {SAMPLINGS}')
    chosen = []
    for pos in positives:
        left = [c for c in absent if c not in chosen]
        ranked = _ranked(co_occur.get(pos, Counter()), left)
        chosen.append(ranked[0] if ranked else rng.choice(left))
    return chosen


def select_images(images: Sequence[dict], objects: Dict[int, List[str]],
                  min_classes: int, num_images: Optional[int],
                  rng: random.Random) -> List[dict]:
    """The images to probe: those with at least ``min_classes`` (and at
    least one) distinct classes, ``num_images`` of them drawn by ``rng``
    (None: all), in file order.

    Raises:
        ValueError: If fewer than ``num_images`` images qualify.
    """
    images = [
        img for img in images
        if len(objects[img['id']]) >= max(min_classes, 1)
    ]
    if num_images is None:
        return images
    if num_images > len(images):
        raise ValueError(
            f'{num_images} images asked for, but only {len(images)} have '
            f'at least {min_classes} classes')
    keep = {id(img) for img in rng.sample(images, num_images)}
    return [img for img in images if id(img) in keep]


def build_pope_questions(coco: dict,
                         num_per_image: int = 3,
                         min_classes: Optional[int] = None,
                         num_images: Optional[int] = None,
                         samplings: Sequence[str] = SAMPLINGS,
                         template: str = TEMPLATE,
                         seed: int = 0) -> dict:
    """POPE's yes/no probes for the images of a COCO-format file.

    As POPE: the images with at least ``min_classes`` distinct classes
    (``num_images`` of them drawn at random, or all), the class frequencies
    and co-occurrences counted over those images, and per image ``k``
    present classes (drawn at random, the same for every sampling) each
    paired with an absent one, positives and negatives alternating. ``k`` is
    ``num_per_image``, fewer when the image has fewer classes or fewer
    absent ones (small vocabularies: CornerShapes has three classes), so
    yes and no stay balanced; an image that has every class is skipped.

    Args:
        coco (dict): A COCO-format annotation file's content.
        num_per_image (int): POPE's ``sample_num``. Defaults to 3.
        min_classes (int, optional): Fewest distinct classes of a probed
            image. Defaults to ``num_per_image``, as POPE.
        num_images (int, optional): Images drawn (POPE: 500; None: all).
        samplings (Sequence[str]): Defaults to :data:`SAMPLINGS`.
        template (str): See :func:`pope_question`.
        seed (int): Seeds every random choice. Defaults to 0.

    Returns:
        dict: The documented format, one record per image (``image``: the
        COCO ``file_name``), answers ``["yes"]`` or ``["no"]``, types
        ``pope_<sampling>``; ``metainfo["pope"]``: the options and
        ``skipped_every_class``.

    Raises:
        ValueError: For an unknown sampling, or if fewer than
            ``num_images`` images have ``min_classes`` classes.
    """
    unknown = sorted(set(samplings) - set(SAMPLINGS))
    if unknown:
        raise ValueError(f'unknown POPE sampling(s) {unknown}; expected '
                         f'some of {SAMPLINGS}')
    min_classes = num_per_image if min_classes is None else min_classes
    classes = [c['name'] for c in coco['categories']]
    objects = image_classes(coco)
    rng = random.Random(f'{seed}:images')
    images = select_images(coco['images'], objects, min_classes, num_images,
                           rng)
    frequency, co_occur = class_statistics(
        [objects[img['id']] for img in images])
    negative_rngs = {s: random.Random(f'{seed}:{s}') for s in samplings}
    data_list, skipped, qid = [], 0, 0
    for img in images:
        present = objects[img['id']]
        absent = [c for c in classes if c not in present]
        k = min(num_per_image, len(present), len(absent))
        if k == 0:
            skipped += 1
            continue
        positives = rng.sample(present, k)
        questions = []
        for sampling in samplings:
            negatives = sample_negatives(sampling, positives, absent,
                                         frequency, co_occur,
                                         negative_rngs[sampling])
            for pos, neg in zip(positives, negatives):
                for name, answer in ((pos, 'yes'), (neg, 'no')):
                    qid += 1
                    questions.append(
                        dict(id=qid, question=pope_question(name, template),
                             answers=[answer], type=TYPE_PREFIX + sampling))
        size = {k: img[k] for k in ('width', 'height') if k in img}
        data_list.append(dict(image=img['file_name'], image_id=img['id'],
                              **size, questions=questions))
    pope = dict(samplings=list(samplings), num_per_image=num_per_image,
                min_classes=min_classes, num_images=num_images, seed=seed,
                template=template, skipped_every_class=skipped)
    return dict(metainfo=dict(classes=classes, pope=pope),
                data_list=data_list)


def write_pope_questions(ann_file: str, out_file: str, **kwargs) -> dict:
    """Build the probes of a COCO-format file and write them as JSON.

    Args:
        ann_file (str): COCO-format annotation file.
        out_file (str): Output question file (folders are made).
        **kwargs: Options of :func:`build_pope_questions`.

    Returns:
        dict: ``images`` and ``questions`` written, ``per_sampling``
        question counts and ``skipped_every_class``.

    Raises:
        FormatError: If ``ann_file`` lacks ``images`` or ``categories``.
    """
    coco = load_json(ann_file)
    if not isinstance(coco, dict) or not all(
            isinstance(coco.get(k), list) for k in ('images', 'categories')):
        raise FormatError(f'{ann_file}: expected a COCO-format file with '
                          '"images" and "categories" lists')
    content = build_pope_questions(coco, **kwargs)
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    write_json(out_file, content)
    per_sampling = Counter(q['type'][len(TYPE_PREFIX):]
                           for r in content['data_list']
                           for q in r['questions'])
    return dict(images=len(content['data_list']),
                questions=sum(per_sampling.values()),
                per_sampling=dict(per_sampling),
                skipped_every_class=content['metainfo']['pope'][
                    'skipped_every_class'])
