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
from mmengine.config import Config, DictAction
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmmrmllm.apis import infer_pipeline  # noqa: E402
from mmmrmllm.registry import MODELS, VISUALIZERS  # noqa: E402
from mmmrmllm.utils import register_all_modules  # noqa: E402
from mmmrmllm.utils.checkpoint import load_matching_checkpoint  # noqa: E402
from mmmrmllm.utils.config import ConfigError, check_config  # noqa: E402
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


def main():
    args = parse_args()
    for path in args.img:
        if not osp.isfile(path):
            raise SystemExit(f'error: image not found: {path}')
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'error: checkpoint not found: {args.checkpoint}')
    register_all_modules(init_default_scope=False)
    try:
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            check_config(cfg, args.cfg_options)
            cfg.merge_from_dict(args.cfg_options)
        init_default_scope(cfg.get('default_scope', 'mmmrmllm'))
        model = MODELS.build(cfg.model)
        # refuses a checkpoint of another model (MMEngine only warns)
        checkpoint = load_matching_checkpoint(model, args.checkpoint)
    except (ConfigError, FileNotFoundError, ValueError) as err:
        # a wrong config value, a missing weights directory, a checkpoint
        # of another model, ...
        raise SystemExit('error: ' + ' '.join(str(err).split()))
    model.dataset_meta = checkpoint.get('meta', {}).get('dataset_meta', {})
    model.to(args.device).eval()
    timer = PartTimer()

    pipeline = Compose(infer_pipeline(cfg))
    questions = list(args.question)
    batch = []
    for i, path in enumerate(args.img):
        batch.append(
            pipeline(
                dict(
                    img_path=path,
                    img_id=i,
                    questions=questions,
                    gt_answers=[[] for _ in questions],
                    question_types=['' for _ in questions],
                    question_ids=list(range(len(questions))),
                    has_det_ann=not questions)))

    start = time.perf_counter()
    with torch.no_grad(), timer.attach(model):
        outputs = model.test_step(pseudo_collate(batch))
    total = time.perf_counter() - start

    classes = model.dataset_meta.get('classes') or getattr(
        model, 'class_names', None) or []
    os.makedirs(args.out_dir, exist_ok=True)
    # pictures are written to --out-dir directly: no logging backends
    visualizer = VISUALIZERS.build(dict(cfg.visualizer, vis_backends=None))
    visualizer.dataset_meta = dict(classes=classes)
    results = []
    for path, sample in zip(args.img, outputs):
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

    with open(osp.join(args.out_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)
    print(f'\ntiming for {len(args.img)} image(s) x {len(questions)} '
          f'question(s): total {total:.3f} s')
    for name, secs in sorted(timer.seconds.items(), key=lambda x: -x[1]):
        print(f'  {name:<24} {secs:8.3f} s  ({timer.calls[name]} calls)')
    for part in ('detector.extract', 'detector.head'):
        if part in timer.calls:
            print(f'  {part} ran {timer.calls[part]} time(s) on '
                  f'{timer.images[part]} image(s) for {len(args.img)} '
                  'image(s)')
    print(f'wrote {args.out_dir}/results.json')


if __name__ == '__main__':
    main()
