"""Does an exported InstructBLIP directory answer as well under
transformers alone? Zero-shot VQA of the toolkit and of transformers,
called as the directory's model card (README.md) shows, on the same
images.

Usage:
    python tools/analysis_tools/hf_zero_shot.py DIR [--num-images 60] \
        [--split val] [--data-root data/cornershapes] [--seed 0] \
        [--out result.json]

The toolkit's number is ``make demo``'s zero-shot evaluation (the
MLLM-only config with ``model.pretrained_mllm = DIR``, no training) on the
first ``--num-images`` images of the split. The transformers number comes
from ``InstructBlipProcessor`` + ``InstructBlipForConditionalGeneration.
generate`` with the card's prompt format, one question at a time; the bare
question through the processor (what a user who skips the card would try)
is printed too. Exit status 1 when the card's call is more than
``--tolerance`` below or above the toolkit.
"""
import argparse
import copy
import json
import os.path as osp
import sys
import tempfile
from collections import defaultdict

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools'))


def card_call(model_dir: str) -> dict:
    """The call the model card of ``model_dir`` shows
    (:func:`mmmrmllm.models.mllm_directory.card_call`, next to the card's
    writer)."""
    from mmmrmllm.models.mllm_directory import card_call as read_card
    return read_card(model_dir)



def toolkit_zero_shot(model_dir: str, data_root: str, split: str,
                      num_images: int, seed: int, work_dir: str):
    """``make demo``'s zero-shot evaluation on the first ``num_images``
    images of ``split``.

    Returns:
        tuple[dict, list[dict]]: The metrics and the images' records
        (image path, questions, reference answers, question types).
    """
    import demo
    import torch
    from mmengine.runner import Runner

    from mmmrmllm.registry import DATASETS
    cfg = demo.joint_config(demo.MLLM_BASELINE, data_root, work_dir, None,
                            model_dir, None, seed)
    cfg.train_cfg.max_iters = 0
    data = copy.deepcopy(cfg.val_dataset if split == 'val' else
                         cfg[f'{split}_dataset'])
    data.indices = num_images
    cfg.test_dataloader.dataset = data
    if split != 'val':
        cfg.test_evaluator = cfg[f'{split}_evaluator']
    cfg.load_from, cfg.resume = None, False
    cfg.default_hooks.visualization.draw = False
    demo.fresh_visualizer(cfg)
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    # the same model's answers, one list per image, for the comparison
    answers = []
    with torch.no_grad():
        for batch in runner.test_dataloader:
            answers += [list(s.pred_answers)
                        for s in runner.model.test_step(batch)]
    dataset = DATASETS.build(data)
    records = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        records.append(dict(
            img_path=info['img_path'], questions=list(info['questions']),
            gt_answers=[list(a) for a in info['gt_answers']],
            question_types=list(info['question_types']),
            toolkit_answers=answers[i]))
    return metrics, records


def transformers_zero_shot(model_dir: str, records, prompt: str,
                           qformer: str, max_new_tokens: int,
                           min_consensus_refs: int) -> dict:
    """VQA accuracy of ``transformers`` alone, one question at a time.

    Args:
        prompt (str): The processor's text, with ``{question}``.
        qformer (str): What the Q-Former reads (``card_call``).
    """
    import torch
    from PIL import Image
    from transformers import (
        InstructBlipForConditionalGeneration,
        InstructBlipProcessor,
    )

    from mmmrmllm.evaluation.functional import vqa_score
    processor = InstructBlipProcessor.from_pretrained(model_dir)
    model = InstructBlipForConditionalGeneration.from_pretrained(
        model_dir).eval()
    scores = defaultdict(list)
    answers = []
    for rec in records:
        image = Image.open(rec['img_path']).convert('RGB')
        for q, refs, qtype in zip(rec['questions'], rec['gt_answers'],
                                  rec['question_types']):
            inputs = processor(images=image, text=prompt.format(question=q),
                               return_tensors='pt')
            if qformer == 'question':
                ids = processor.qformer_tokenizer(q, return_tensors='pt')
                inputs['qformer_input_ids'] = ids['input_ids']
                inputs['qformer_attention_mask'] = ids['attention_mask']
            elif qformer == 'nothing':
                inputs['qformer_attention_mask'] = torch.zeros_like(
                    inputs['qformer_attention_mask'])
            with torch.no_grad():
                out = model.generate(**inputs, max_new_tokens=max_new_tokens,
                                     do_sample=False)
            new = out[:, inputs['input_ids'].shape[1]:]
            pred = processor.batch_decode(new,
                                          skip_special_tokens=True)[0].strip()
            answers.append(pred)
            score = vqa_score(pred, refs, min_consensus_refs)
            scores[''].append(score)
            scores[qtype].append(score)
    out = {'acc': sum(scores['']) / max(1, len(scores['']))}
    for qtype in sorted(t for t in scores if t):
        out[f'acc_{qtype}'] = sum(scores[qtype]) / len(scores[qtype])
    out['num_questions'] = len(scores[''])
    out['answers'] = answers
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('model_dir', help='exported InstructBLIP directory')
    parser.add_argument('--num-images', type=int, default=60)
    parser.add_argument('--split', default='val',
                        choices=('val', 'corner', 'novel'))
    parser.add_argument('--data-root', default='data/cornershapes')
    parser.add_argument('--seed', type=int, default=0,
                        help='randomness seed of the toolkit run')
    parser.add_argument('--tolerance', type=float, default=0.02)
    parser.add_argument('--out', default=None, help='write the result JSON')
    args = parser.parse_args(argv)
    from mmmrmllm.models.mllm_directory import read_mllm_config
    read_mllm_config(args.model_dir, what='model_dir')
    if not osp.isdir(args.data_root):
        raise FileNotFoundError(f'--data-root {args.data_root}: missing '
                                '(`make demo` generates it)')
    from transformers.utils import logging as hf_logging

    from mmmrmllm.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    # generate's notes on InstructBLIP's legacy layout, once per question
    hf_logging.set_verbosity_error()
    call = card_call(args.model_dir)
    with tempfile.TemporaryDirectory() as work_dir:
        metrics, records = toolkit_zero_shot(
            osp.abspath(args.model_dir), args.data_root, args.split,
            args.num_images, args.seed, work_dir)
    toolkit = {k[len('vqa/'):]: v for k, v in metrics.items()
               if k.startswith('vqa/')}
    # scored as the toolkit's VQAAccuracy (its default) scores them
    from mmmrmllm.evaluation import VQAAccuracy
    refs = VQAAccuracy().min_consensus_refs
    card = transformers_zero_shot(args.model_dir, records, call['prompt'],
                                  call['qformer'], call['max_new_tokens'],
                                  refs)
    plain = transformers_zero_shot(args.model_dir, records, '{question}',
                                   'text', call['max_new_tokens'], refs)
    gap = card['acc'] - toolkit['acc']
    ours = [a for r in records for a in r['toolkit_answers']]
    same = sum(a == b for a, b in zip(ours, card['answers'])) / max(
        1, len(ours))
    print(f'{args.split}, first {len(records)} images, '
          f'{card["num_questions"]} questions; card prompt '
          f'{call["prompt"]!r}, Q-Former reads {call["qformer"]}')
    types = sorted(k for k in toolkit if k.startswith('acc_'))
    print(f'{"":<32}{"VQA":>7}' + ''.join(f'{t[4:][:9]:>10}'
                                           for t in types))
    for name, res in (('toolkit (make demo zero-shot)', toolkit),
                      ('transformers, as the card shows', card),
                      ('transformers, bare question', plain)):
        print(f'{name:<32}{res["acc"]:>7.3f}' + ''.join(
            f'{res.get(t, float("nan")):>10.3f}' for t in types))
    print(f'the same answer as the toolkit: {same:.3f} of the questions '
          '(transformers, as the card shows)')
    ok = abs(gap) <= args.tolerance
    print(f'card - toolkit = {gap:+.3f} ({"within" if ok else "NOT within"}'
          f' {args.tolerance})')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(split=args.split, num_images=len(records),
                           card_call=call, toolkit=toolkit,
                           transformers_card=card,
                           transformers_bare_question=plain,
                           same_answers=same, gap=gap, within=ok), f,
                      indent=2)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
