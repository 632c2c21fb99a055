"""The main job (``make demo``): CornerShapes end to end on a CPU.

1. generates CornerShapes into ``data/cornershapes`` if it is missing;
2. trains the tiny MR-MLLM (DINO R-18 + small ViT + Q-Former + 2-layer
   Llama, from scratch) on det_train + vqa_train;
3. evaluates detection (COCO mAP, corner/common recall) and VQA accuracy on
   ``val`` and ``corner``, drawing a few predictions of each split;
4. prints the metrics next to their targets: ``val`` bbox mAP >= 0.5 and
   VQA accuracy >= the majority-answer baseline + 15 points.

Usage: python tools/demo.py [--work-dir DIR] [--max-iters N]
"""
import argparse
import copy
import json
import os.path as osp
import sys
import time

from mmengine.config import Config
from mmengine.runner import Runner

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from mmmrmllm.datasets import generate_cornershapes  # noqa: E402
from mmmrmllm.utils import register_all_modules  # noqa: E402

CONFIG = osp.join(ROOT, 'configs', 'mrmllm',
                  'mrmllm_dino_r18_tinyllama_400i_cornershapes.py')
MAP_TARGET = 0.5
VQA_MARGIN = 0.15


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--data-root', default='data/cornershapes')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--max-iters', type=int, default=None)
    parser.add_argument(
        '--show-images', type=int, default=8,
        help='predictions drawn per evaluated split')
    return parser.parse_args()


def ensure_data(data_root: str) -> dict:
    stats_file = osp.join(data_root, 'stats.json')
    if not osp.isfile(stats_file):
        start = time.perf_counter()
        print(f'[demo] generating CornerShapes into {data_root} ...')
        generate_cornershapes(data_root)
        print(f'[demo] generated in {time.perf_counter() - start:.1f} s')
    with open(stats_file) as f:
        return json.load(f)


def evaluate(cfg: Config, split: str, checkpoint: str, work_dir: str,
             show_images: int) -> dict:
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = osp.join(work_dir, f'test_{split}')
    cfg.load_from = checkpoint
    cfg.resume = False
    if split != 'val':
        cfg.test_dataloader.dataset = cfg[f'{split}_dataset']
        cfg.test_evaluator = cfg[f'{split}_evaluator']
    vis = cfg.default_hooks.visualization
    vis.draw = show_images > 0
    vis.max_test_images = show_images
    vis.test_out_dir = 'predictions'
    runner = Runner.from_cfg(cfg)
    return runner.test()


def main():
    args = parse_args()
    wall = time.perf_counter()
    register_all_modules(init_default_scope=False)
    stats = ensure_data(args.data_root)

    cfg = Config.fromfile(args.config)
    cfg.work_dir = args.work_dir
    data_root = args.data_root.rstrip('/') + '/'
    for ds in cfg.train_dataloader.dataset.datasets:
        ds.data_root = data_root
    for key in ('val_dataset', 'corner_dataset'):
        cfg[key].data_root = data_root
    for key in ('val_evaluator', 'corner_evaluator'):
        for metric in cfg[key].metrics:
            if 'ann_file' in metric:
                metric.ann_file = osp.join(
                    data_root, 'annotations',
                    osp.basename(metric.ann_file))
    cfg.val_dataloader.dataset = cfg.val_dataset
    cfg.test_dataloader.dataset = cfg.val_dataset
    cfg.val_evaluator = cfg.test_evaluator = cfg.val_evaluator
    if args.max_iters:
        cfg.train_cfg.max_iters = args.max_iters
    # evaluate once, after training (below, on val and corner)
    cfg.train_cfg.val_interval = cfg.train_cfg.max_iters + 1
    cfg.default_hooks.checkpoint.interval = cfg.train_cfg.max_iters

    start = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    runner.train()
    train_time = time.perf_counter() - start
    checkpoint = osp.join(args.work_dir,
                          f'iter_{cfg.train_cfg.max_iters}.pth')

    results = {}
    for split in ('val', 'corner'):
        results[split] = evaluate(cfg, split, checkpoint, args.work_dir,
                                  args.show_images)

    print('\n' + '=' * 72)
    print(f'MR-MLLM main job on CornerShapes: trained '
          f'{cfg.train_cfg.max_iters} iterations in {train_time / 60:.1f} '
          f'min; total {(time.perf_counter() - wall) / 60:.1f} min')
    print(f'{"split":<8}{"bbox mAP":>10}{"AR corner":>11}{"AR common":>11}'
          f'{"VQA acc":>9}{"majority":>10}')
    ok = True
    for split, metrics in results.items():
        majority = stats['splits'][split]['majority_acc']
        print(f'{split:<8}{metrics["coco/bbox_mAP"]:>10.3f}'
              f'{metrics.get("corner/AR_corner", -1):>11.3f}'
              f'{metrics.get("corner/AR_common", -1):>11.3f}'
              f'{metrics["vqa/acc"]:>9.3f}{majority:>10.3f}')
    val = results['val']
    vqa_target = stats['splits']['val']['majority_acc'] + VQA_MARGIN
    for name, value, target in (('val bbox mAP', val['coco/bbox_mAP'],
                                 MAP_TARGET), ('val VQA accuracy',
                                               val['vqa/acc'], vqa_target)):
        passed = value >= target
        ok &= passed
        print(f'target {name}: {value:.3f} >= {target:.3f} '
              f'{"PASS" if passed else "MISS"}')
    print('per question type (val): ' + ', '.join(
        f'{k[len("vqa/acc_"):]} {v:.2f}' for k, v in val.items()
        if k.startswith('vqa/acc_')))
    print(f'predictions drawn under {args.work_dir}/test_*/*/predictions; '
          f'TensorBoard: tensorboard --logdir {args.work_dir}')
    print('=' * 72)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
