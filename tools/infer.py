"""Detect objects and answer questions about images.

Example::

    python tools/infer.py CONFIG CKPT --img a.jpg b.jpg \
        --question "how many circles are there?" "is there a square?" \
        --out-dir outputs/

Writes, per image, a picture with boxes, labels and the answers drawn
(``<name>.jpg``) and one ``results.json`` for all images. Perception runs
once per image whatever the number of questions; the timing split per part
of the model is printed. The work is :class:`MRMLLMInferencer`'s
(``mmmrmllm.apis``); this tool reads the flags and prints.
"""
import argparse
import json
import os
import os.path as osp
import sys

from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmmrmllm.apis import MRMLLMInferencer, check_questions  # noqa: E402
from mmmrmllm.utils.errors import exit_on_user_error  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description='MR-MLLM inference: detections + answers')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--img', nargs='+', required=True, help='image(s)')
    parser.add_argument(
        '--question', nargs='*', default=[], help='question(s) asked of '
        'every image')
    parser.add_argument('--out-dir', default='outputs', help='output dir')
    parser.add_argument(
        '--score-thr', type=float, default=0.3, help='box score to draw')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config (xxx=yyy)')
    return parser.parse_args()


def print_timing(batch) -> None:
    """Seconds per model part, and how often perception ran."""
    timer, num = batch.timer, len(batch.samples)
    print(f'\ntiming for {num} image(s) x {len(batch.questions)} '
          f'question(s): total {batch.seconds:.3f} s')
    for name, secs in sorted(timer.seconds.items(), key=lambda x: -x[1]):
        print(f'  {name:<24} {secs:8.3f} s  ({timer.calls[name]} calls)')
    for part in ('detector.extract', 'detector.head'):
        if part in timer.calls:
            print(f'  {part} ran {timer.calls[part]} time(s) on '
                  f'{timer.images[part]} image(s) for {num} image(s)')


def main():
    args = parse_args()
    questions = list(args.question)
    exit_on_user_error(lambda: check_questions(questions))
    # a missing or unreadable checkpoint, one of another model, a wrong
    # config value, a missing weights directory, ...: one ``error:`` line
    inferencer = exit_on_user_error(lambda: MRMLLMInferencer(
        args.config, args.checkpoint, device=args.device,
        cfg_options=args.cfg_options))
    batch = inferencer.predict_batch(args.img, questions)
    for path, reason in batch.skipped:
        print(f'skipped {path}: {reason}', file=sys.stderr)
    os.makedirs(args.out_dir, exist_ok=True)
    results = [dict(image=path, error=reason)
               for path, reason in batch.skipped]
    for path, sample in batch.samples:
        results.append(inferencer.record(batch, path, sample,
                                         args.score_thr))
        name = osp.splitext(osp.basename(path))[0] + '.jpg'
        inferencer.save_drawing(path, sample, osp.join(args.out_dir, name),
                                args.score_thr)
        print(f'{path}: {len(results[-1]["detections"])} objects')
        for item in results[-1]['answers']:
            print(f'  Q: {item["question"]}  A: {item["answer"]}')

    order = {path: i for i, path in enumerate(args.img)}
    results.sort(key=lambda r: order[r['image']])
    with open(osp.join(args.out_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)
    if batch.samples:
        print_timing(batch)
    print(f'wrote {args.out_dir}/results.json')
    if batch.skipped:
        print(f'{len(batch.skipped)} of {len(args.img)} image(s) skipped '
              '(see "error" in results.json)', file=sys.stderr)
    if not batch.samples:
        detail = '; '.join(f'{p}: {r}' for p, r in batch.skipped)
        raise SystemExit(f'error: no image could be read ({detail})')


if __name__ == '__main__':
    main()
