"""Does the model answer a question as a person types it as it answers the
template's? Ask each question of the first ``val`` images both ways.

Usage:
    python tools/analysis_tools/phrasing_agreement.py CONFIG CKPT \
        [--num-images 50] [--out result.json]

A person's typing of a question (:func:`as_typed`): lower case, ``color``
for ``colour``, no question mark, a double space after the first word -
none of it changes the meaning. Prints the share of questions whose two
answers agree (overall and per question type), and the empty answers and
the answers of the wrong type for their question (a colour to a counting
question, ...) of each form. The questions go to the model as typed (not
through the web demo's clean-up of spaces), so the tokenizer's
normalisation is what is measured.
"""
import argparse
import json
import os.path as osp
import sys
from collections import Counter

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

import torch  # noqa: E402

from mmmrmllm.apis import MRMLLMInferencer  # noqa: E402
from mmmrmllm.datasets.cornershapes.questions import ANSWER_TYPES  # noqa
from mmmrmllm.evaluation.functional import (  # noqa: E402
    answer_has_type,
    normalize_answer,
)


def as_typed(question: str) -> str:
    """``question`` as a person types it: lower case, ``color``, no
    question mark, a double space after the first word."""
    text = question.lower().replace('colour', 'color').rstrip('?')
    first, _, rest = text.partition(' ')
    return f'{first}  {rest}' if rest else first


def val_records(cfg, num_images: int) -> list:
    """The first ``num_images`` question records of the config's ``val``
    split, each with its image's path."""
    ds = cfg.get('val_dataset') or cfg.test_dataloader.dataset
    root = ds.get('data_root', '')
    path = osp.join(root, ds['question_file'])
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} not found (the val questions)')
    with open(path) as f:
        records = json.load(f)['data_list'][:num_images]
    prefix = (ds.get('data_prefix') or {}).get('img', '')
    return [dict(rec, path=osp.join(root, prefix, rec['image']))
            for rec in records]


def _answers(inferencer: MRMLLMInferencer, session, questions) -> list:
    """The model's answers to ``questions`` (as given, one batch)."""
    sample = session.sample.clone()
    sample.questions = list(questions)
    sample.gt_answers = [[] for _ in questions]
    sample.question_types = [''] * len(questions)
    sample.question_ids = list(range(len(questions)))
    with torch.no_grad():
        answers = inferencer.model.answer(session.state, [sample])
    return list(answers[0])


def agreement(inferencer: MRMLLMInferencer, records: list) -> dict:
    """Ask every question of ``records`` as the template writes it and as
    typed (:func:`as_typed`); count agreement, empty and wrong-type
    answers."""
    same, total = Counter(), Counter()
    empty, wrong = Counter(), Counter()
    examples = []
    for rec in records:
        session = inferencer.perceive(rec['path'])
        qs = rec['questions']
        templ = [q['question'] for q in qs]
        typed = [as_typed(t) for t in templ]
        answers = _answers(inferencer, session, templ + typed)
        for q, a, b, t in zip(qs, answers[:len(qs)], answers[len(qs):],
                              typed):
            qtype = q.get('type', '')
            total[qtype] += 1
            agree = normalize_answer(a) == normalize_answer(b)
            same[qtype] += agree
            for form, ans in (('template', a), ('typed', b)):
                empty[form] += not normalize_answer(ans)
                kind = ANSWER_TYPES.get(qtype)
                wrong[form] += kind is not None and not answer_has_type(
                    ans, kind)
            if not agree and len(examples) < 10:
                examples.append(dict(template=q['question'], typed=t,
                                     answers=[a, b]))
    n = sum(total.values())
    return dict(
        images=len(records),
        questions=n,
        agreement=round(sum(same.values()) / n, 4) if n else None,
        agreement_by_type={
            t: round(same[t] / total[t], 4) for t in sorted(total)},
        empty=dict(empty),
        wrong_type=dict(wrong),
        disagreements=examples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--num-images', type=int, default=50,
                        help='the first N val images')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', default=None, help='also write JSON here')
    args = parser.parse_args()
    if args.num_images < 1:
        parser.error(f'--num-images must be at least 1, got '
                     f'{args.num_images}')
    inferencer = MRMLLMInferencer(args.config, args.checkpoint,
                                  device=args.device)
    if not inferencer.has_llm:
        parser.error('the config has no LLM: nothing answers questions')
    result = agreement(inferencer,
                       val_records(inferencer.cfg, args.num_images))
    n = result['questions']
    print(f'{n} questions on {result["images"]} val images, asked as the '
          'template writes them and as typed (lower case, "color", no '
          'question mark, a double space)')
    for row in result['disagreements']:
        print(f'  {row["template"]!r} -> {row["answers"][0]!r}; '
              f'{row["typed"]!r} -> {row["answers"][1]!r}')
    print('agreement by type: ' + ', '.join(
        f'{t} {v:.3f}' for t, v in result['agreement_by_type'].items()))
    for form in ('template', 'typed'):
        print(f'{form}: {result["empty"].get(form, 0)} empty answers, '
              f'{result["wrong_type"].get(form, 0)} of the wrong type '
              f'(of {n})')
    print(f'agreement: {result["agreement"]:.3f}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)


if __name__ == '__main__':
    main()
