"""Detect objects and answer questions about images.

Example::

    python tools/infer.py CONFIG CKPT --img a.jpg b.jpg \
        --question "how many circles are there?" "is there a square?" \
        --out-dir outputs/

Writes, per image, a picture with boxes, labels and the answers drawn
(``<name>.jpg``) and one ``results.json`` for all images. Perception runs
once per image whatever the number of questions; the timing split per part
of the model is printed.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

import mmcv
import torch
from mmengine.config import DictAction
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmmrmllm.apis import infer_pipeline  # noqa: E402
from mmmrmllm.registry import MODELS, VISUALIZERS  # noqa: E402
from mmmrmllm.utils import register_all_modules  # noqa: E402
from mmmrmllm.utils.checkpoint import load_matching_checkpoint  # noqa: E402
from mmmrmllm.utils.config import (  # noqa: E402
    ConfigError,
    check_config,
    for_inference,
    load_config,
)
from mmmrmllm.utils.errors import exit_on_user_error  # noqa: E402
from mmmrmllm.utils.part_timer import PartTimer  # noqa: E402


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


def check_questions(questions):
    """Refuse empty and non-UTF-8 questions (one ``error:`` line)."""
    for i, q in enumerate(questions, 1):
        try:
            q.encode('utf-8')
        except UnicodeEncodeError:
            # bytes that are not UTF-8 reach argv as lone surrogates
            raise ConfigError(
                f'question {i} is not valid UTF-8: '
                f'{q.encode("utf-8", "replace").decode("utf-8")[:60]!r}')
        if not q.strip():
            raise ConfigError(f'question {i} is empty')


def load_images(paths, pipeline, questions):
    """Run the pipeline on each image; a bad one is skipped and reported.

    Returns:
        tuple[list, list]: ``(path, packed sample)`` of the readable images
        and ``(path, reason)`` of the skipped ones.
    """
    good, bad = [], []
    for i, path in enumerate(paths):
        if not osp.isfile(path):
            bad.append((path, 'image not found'))
        elif osp.getsize(path) == 0:
            bad.append((path, 'empty file (0 bytes)'))
        else:
            try:
                good.append((path, pipeline(dict(
                    img_path=path,
                    img_id=i,
                    questions=questions,
                    gt_answers=[[] for _ in questions],
                    question_types=['' for _ in questions],
                    question_ids=list(range(len(questions))),
                    has_det_ann=not questions))))
                continue
            except Exception as err:  # truncated, not an image, ...
                reason = ' '.join(str(err).split())[:200]
                bad.append((path, 'cannot read the image: '
                            f'{type(err).__name__}: {reason}'))
        print(f'skipped {path}: {bad[-1][1]}', file=sys.stderr)
    return good, bad


def build_model(args):
    cfg = load_config(args.config)
    if args.cfg_options:
        check_config(cfg, args.cfg_options)
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmmrmllm'))
    # the checkpoint holds the weights: init-only inputs only if needed
    model = MODELS.build(for_inference(cfg).model)
    # refuses a checkpoint of another model (MMEngine only warns) and one
    # that cannot be read
    checkpoint = load_matching_checkpoint(model, args.checkpoint)
    return cfg, model, checkpoint


def main():
    args = parse_args()
    questions = list(args.question)
    exit_on_user_error(lambda: check_questions(questions))
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'error: checkpoint not found: {args.checkpoint}')
    register_all_modules(init_default_scope=False)
    # a wrong config value, a missing weights directory, a checkpoint of
    # another model, an unreadable checkpoint, ...: one ``error:`` line
    cfg, model, checkpoint = exit_on_user_error(lambda: build_model(args))
    model.dataset_meta = checkpoint.get('meta', {}).get('dataset_meta', {})
    model.to(args.device).eval()
    timer = PartTimer()

    pipeline = Compose(infer_pipeline(cfg))
    loaded, skipped = load_images(args.img, pipeline, questions)
    os.makedirs(args.out_dir, exist_ok=True)
    results = [dict(image=path, error=reason) for path, reason in skipped]
    paths = [path for path, _ in loaded]

    total, outputs = 0.0, []
    if loaded:
        start = time.perf_counter()
        with torch.no_grad(), timer.attach(model):
            outputs = model.test_step(
                pseudo_collate([packed for _, packed in loaded]))
        total = time.perf_counter() - start

    classes = model.dataset_meta.get('classes') or getattr(
        model, 'class_names', None) or []
    # pictures are written to --out-dir directly: no logging backends
    visualizer = VISUALIZERS.build(dict(cfg.visualizer, vis_backends=None))
    visualizer.dataset_meta = dict(classes=classes)
    for path, sample in zip(paths, outputs):
        pred = sample.pred_instances
        keep = pred.scores >= args.score_thr
        detections = [
            dict(
                label=classes[int(label)] if classes else int(label),
                score=round(float(score), 4),
                bbox=[round(float(v), 1) for v in box])
            for box, label, score in zip(pred.bboxes[keep], pred.labels[
                keep], pred.scores[keep])
        ]
        answers = list(sample.get('pred_answers', None) or [])
        results.append(
            dict(
                image=path,
                detections=detections,
                answers=[
                    dict(question=q, answer=a)
                    for q, a in zip(questions, answers)
                ]))
        image = mmcv.imread(path, channel_order='rgb')
        out_file = osp.join(args.out_dir,
                            osp.splitext(osp.basename(path))[0] + '.jpg')
        visualizer.add_datasample(
            osp.basename(path), image, sample, draw_gt=False,
            pred_score_thr=args.score_thr, out_file=out_file)
        print(f'{path}: {len(detections)} objects')
        for item in results[-1]['answers']:
            print(f'  Q: {item["question"]}  A: {item["answer"]}')

    order = {path: i for i, path in enumerate(args.img)}
    results.sort(key=lambda r: order[r['image']])
    with open(osp.join(args.out_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)
    if loaded:
        print(f'\ntiming for {len(paths)} image(s) x {len(questions)} '
              f'question(s): total {total:.3f} s')
        for name, secs in sorted(timer.seconds.items(),
                                 key=lambda x: -x[1]):
            print(f'  {name:<24} {secs:8.3f} s  ({timer.calls[name]} '
                  'calls)')
        for part in ('detector.extract', 'detector.head'):
            if part in timer.calls:
                print(f'  {part} ran {timer.calls[part]} time(s) on '
                      f'{timer.images[part]} image(s) for {len(paths)} '
                      'image(s)')
    print(f'wrote {args.out_dir}/results.json')
    if skipped:
        print(f'{len(skipped)} of {len(args.img)} image(s) skipped (see '
              '"error" in results.json)', file=sys.stderr)
    if not loaded:
        detail = '; '.join(f'{p}: {r}' for p, r in skipped)
        raise SystemExit(f'error: no image could be read ({detail})')


if __name__ == '__main__':
    main()
