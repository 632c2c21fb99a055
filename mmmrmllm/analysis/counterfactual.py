"""Counterfactual inputs: does a model's answer follow the image?"""
import os.path as osp
import tempfile
from typing import Dict, Iterable, List, Sequence

from PIL import Image

COMMON_COLOURS = ('red', 'green', 'blue', 'yellow')


def colour_question(sample: dict):
    """The index of the object a colour question asks about and the
    question (None if the image has no colour question)."""
    from mmmrmllm.datasets.cornershapes.phrasings import parse_question
    for q in sample['questions']:
        if q['type'] != 'colour':
            continue
        # in any phrasing (a training split's too)
        shape = parse_question(q['question']).slots['shape']
        for k, o in enumerate(sample['objects']):
            if o['shape'] == shape and o['colour'] == q['answers'][0]:
                return k, q['question']
    return None


def recolour_counterfactual(inferencer,
                            indices: Iterable[int],
                            split: str = 'val',
                            seed: int = 0,
                            colours: Sequence[str] = COMMON_COLOURS,
                            limit: int = 8) -> Dict[str, object]:
    """Re-render CornerShapes images with the object of their colour
    question in each of ``colours`` (nothing else changes) and ask the
    question each time.

    Args:
        inferencer (MRMLLMInferencer): The model.
        indices (Iterable[int]): Images of ``split`` to try, in order; those
            without a colour question are passed over.
        split (str): Benchmark split (as generated with ``seed``).
        seed (int): The benchmark's generation seed.
        colours (Sequence[str]): Colours to paint the object in.
        limit (int): Images to use.

    Returns:
        dict: ``images`` (per image: index, question, answers per colour),
        ``changed`` (images whose answer changed with the colour),
        ``correct`` (answers equal to the painted colour) and ``total``
        (answers given).
    """
    from mmmrmllm.datasets.cornershapes import generate_image
    rows: List[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for index in indices:
            if len(rows) >= limit:
                break
            found = colour_question(generate_image(seed, split, index))
            if found is None:
                continue
            k, question = found
            answers = {}
            for colour in colours:
                image = generate_image(
                    seed, split, index, recolour={k: colour})['image']
                path = osp.join(tmp, f'{index}_{colour}.png')
                Image.fromarray(image).save(path)
                session = inferencer.perceive(path)
                answers[colour] = inferencer.ask(session,
                                                 question)['answer']
            rows.append(dict(index=index, question=question,
                             answers=answers))
    return dict(
        images=rows,
        changed=sum(len(set(r['answers'].values())) > 1 for r in rows),
        correct=sum(a == c for r in rows for c, a in r['answers'].items()),
        total=sum(len(r['answers']) for r in rows))
