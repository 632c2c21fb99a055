"""The main job (``make demo``): CornerShapes end to end on a CPU, staged
as in the paper (a pretrained detector + a pretrained LLM, then joint
training).

1. generates CornerShapes (images, boxes, questions and a subword
   tokenizer) into ``data/cornershapes`` if it is missing;
2. stage 1a, detector pre-training (``configs/pretrain/dino_r18_*``) and
   stage 1b, language pre-training (``configs/pretrain/llama_4l_*``,
   saved as a Hugging Face directory): cached under the user's cache folder
   by a hash of config, code and data (``mmmrmllm.utils.stages``), so they
   run once per machine;
3. stage 2, joint MR-MLLM training from both (``--config``);
4. evaluates detection and VQA on ``val`` and ``corner``, draws a few
   predictions, writes ``<work-dir>/summary.json`` and prints it with the
   targets.

Usage: python tools/demo.py [--work-dir DIR] [--max-iters N] [--no-cache]
"""
import argparse
import copy
import json
import os.path as osp
import sys
import time

import torch
from mmengine.config import Config
from mmengine.runner import Runner

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from mmmrmllm.datasets import generate_cornershapes  # noqa: E402
from mmmrmllm.utils import register_all_modules  # noqa: E402
from mmmrmllm.utils.stages import Stage  # noqa: E402

CONFIG = osp.join(ROOT, 'configs', 'mrmllm',
                  'mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes.py')
DET_CONFIG = osp.join(ROOT, 'configs', 'pretrain',
                      'dino_r18_1xb8_250i_cornershapes_det.py')
LM_CONFIG = osp.join(ROOT, 'configs', 'pretrain',
                     'llama_4l_1xb12_2500i_cornershapes_text.py')
QUESTION_TYPES = ('existence', 'counting', 'colour', 'shape_at_position',
                  'relative_position')
# (summary key, split, target); issue "The MLLM reads what it sees"
TARGETS = (('bbox_mAP', 'val', 0.6), ('vqa_acc', 'val', 0.65),
           ('vqa_acc_by_type.counting', 'val', 0.85),
           ('vqa_acc_by_type.shape_at_position', 'val', 0.85),
           ('vqa_acc', 'corner', 0.55))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=CONFIG, help='joint stage')
    parser.add_argument('--det-config', default=DET_CONFIG)
    parser.add_argument('--lm-config', default=LM_CONFIG)
    parser.add_argument('--data-root', default='data/cornershapes')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--max-iters', type=int, default=None,
                        help='joint-stage iterations')
    parser.add_argument('--cache-dir', default=None,
                        help='stage cache (default: ~/.cache/mmmrmllm/'
                        'stages or $MMMRMLLM_CACHE_DIR)')
    parser.add_argument(
        '--det-checkpoint', default=None,
        help='use this detector checkpoint instead of stage 1a')
    parser.add_argument(
        '--llm-dir', default=None,
        help='use this Hugging Face LLM directory instead of stage 1b')
    parser.add_argument(
        '--show-images', type=int, default=8,
        help='predictions drawn per evaluated split')
    return parser.parse_args()


def ensure_data(data_root: str) -> dict:
    stats_file = osp.join(data_root, 'stats.json')
    if not osp.isfile(stats_file) or not osp.isfile(
            osp.join(data_root, 'tokenizer', 'tokenizer.json')):
        start = time.perf_counter()
        print(f'[demo] generating CornerShapes into {data_root} ...')
        generate_cornershapes(data_root)
        print(f'[demo] generated in {time.perf_counter() - start:.1f} s')
    with open(stats_file) as f:
        return json.load(f)


def set_data_root(cfg: Config, data_root: str) -> None:
    """Point every dataset and evaluator of ``cfg`` at ``data_root``."""
    root = data_root.rstrip('/') + '/'

    def visit(node):
        if isinstance(node, dict):
            for key, val in node.items():
                if key == 'data_root' and isinstance(val, str):
                    node[key] = root
                elif key in ('ann_file', 'tokenizer', 'question_file') and \
                        isinstance(val, str) and val.startswith(
                            'data/cornershapes/'):
                    node[key] = root + val[len('data/cornershapes/'):]
                else:
                    visit(val)
        elif isinstance(node, (list, tuple)):
            for val in node:
                visit(val)

    visit(cfg._cfg_dict)


def fresh_visualizer(cfg: Config) -> None:
    """A visualizer of this run's own: MMEngine keeps one instance per
    name, which would go on writing into an earlier run's folder."""
    if cfg.get('visualizer'):
        cfg.visualizer.name = 'visualizer_' + cfg.work_dir.replace(
            osp.sep, '_')


def train(cfg: Config) -> dict:
    fresh_visualizer(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = {}
    for key, val in runner.message_hub.log_scalars.items():
        if key.startswith('val/') and '/' in key[4:]:
            metrics[key[4:]] = round(float(val.current()), 4)
    return metrics


def run_stage(name: str, config: str, data_root: str, outputs: dict,
              cache_dir) -> dict:
    cfg = Config.fromfile(config)
    set_data_root(cfg, data_root)
    stage = Stage(name, cfg, data_root, outputs, root=cache_dir)
    if stage.cached() is not None:
        print(f'[demo] stage {name}: cached in {stage.dir}')
    else:
        print(f'[demo] stage {name}: training {osp.basename(config)} '
              f'(cached afterwards in {stage.dir})')
    return stage.run(train)


def given(name: str, path):
    """A stage output the user passed in (None: run the stage)."""
    if path is None:
        return None
    if not osp.exists(path):
        raise FileNotFoundError(f'{path} not found')
    print(f'[demo] using the given {name} {path}')
    return dict(outputs={name: osp.abspath(path)}, minutes=0.0,
                metrics={}, cached=True)


def evaluate(cfg: Config, split: str, checkpoint: str, work_dir: str,
             show_images: int):
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
    fresh_visualizer(cfg)
    runner = Runner.from_cfg(cfg)
    return runner.test(), runner


@torch.no_grad()
def mechanism_stats(runner: Runner) -> dict:
    """Gate magnitudes and the across-image spread of the soft visual
    tokens on up to 64 images of the runner's test set.

    Spread: the standard deviation of each soft-token element across
    images, averaged, divided by the standard deviation of all elements
    (1 = tokens as different between images as within; 0 = the same
    tokens for every image: a collapsed visual path).
    """
    model = runner.model
    model.eval()
    gates = {}
    for name, p in model.named_parameters():
        if name.split('.')[-1].endswith('gate'):
            gates[name] = round(float(p.abs().mean()), 5)
    if model.language_projection is None:
        return dict(gates=gates, soft_token_spread=None)
    soft = []
    seen = 0
    for batch in runner.test_dataloader:
        data = model.data_preprocessor(batch, False)
        queries = model(**data, mode='tensor')
        soft.append(model.language_projection(queries))
        seen += len(queries)
        if seen >= 64:
            break
    soft = torch.cat(soft)
    spread = soft.std(0).mean() / soft.std().clamp(min=1e-12)
    return dict(gates=gates, soft_token_spread=round(float(spread), 4))


def split_summary(metrics: dict, stats: dict, split: str) -> dict:
    info = stats['splits'][split]
    return dict(
        bbox_mAP=metrics.get('coco/bbox_mAP'),
        AR_corner=metrics.get('corner/AR_corner'),
        AR_common=metrics.get('corner/AR_common'),
        vqa_acc=metrics.get('vqa/acc'),
        vqa_acc_by_type={
            t: metrics.get(f'vqa/acc_{t}')
            for t in QUESTION_TYPES if f'vqa/acc_{t}' in metrics
        },
        majority=info['majority_acc'],
        majority_by_type={
            t: e['majority_acc']
            for t, e in info['question_types'].items()
        })


def lookup(summary: dict, split: str, key: str):
    node = summary['splits'][split]
    for part in key.split('.'):
        node = (node or {}).get(part)
    return node


def num(value) -> float:
    return float('nan') if value is None else value


def print_summary(summary: dict) -> bool:
    print('\n' + '=' * 78)
    mins = summary['minutes']
    print('MR-MLLM main job on CornerShapes: ' + ', '.join(
        f'{k} {v:.1f} min' + (' (cached)' if summary['cached'].get(k)
                              else '')
        for k, v in mins.items()))
    print(f'{"split":<8}{"bbox mAP":>9}{"AR corner":>10}{"AR common":>10}'
          f'{"VQA":>7}{"majority":>9}  ' + ' '.join(
              f'{t[:9]:>9}' for t in QUESTION_TYPES))
    for split, s in summary['splits'].items():
        by_type = ' '.join(
            f'{s["vqa_acc_by_type"].get(t, float("nan")):>9.3f}'
            for t in QUESTION_TYPES)
        print(f'{split:<8}{num(s["bbox_mAP"]):>9.3f}'
              f'{num(s["AR_corner"]):>10.3f}'
              f'{num(s["AR_common"]):>10.3f}'
              f'{s["vqa_acc"]:>7.3f}{s["majority"]:>9.3f}  {by_type}')
        maj = ' '.join(f'{s["majority_by_type"].get(t, float("nan")):>9.3f}'
                       for t in QUESTION_TYPES)
        print(f'{"":<8}{"":>45}{"majority":>9}  {maj}')
    ok = True
    for key, split, target in TARGETS:
        value = lookup(summary, split, key)
        passed = value is not None and value >= target
        ok &= passed
        print(f'target {split} {key}: {num(value):.3f} >= {target} '
              f'{"PASS" if passed else "MISS"}')
    gates = summary['gates']
    print('gates (mean |g|): ' + ', '.join(
        f'{k}={v:.4f}' for k, v in gates.items()) if gates else
        'gates: none (mechanisms off)')
    print(f'soft visual tokens: across-image spread '
          f'{summary["soft_token_spread"]}')
    print('=' * 78)
    return ok


def main():
    args = parse_args()
    wall = time.perf_counter()
    register_all_modules(init_default_scope=False)
    stats = ensure_data(args.data_root)
    data_root = args.data_root

    det = given('checkpoint', args.det_checkpoint) or run_stage(
        'detector', args.det_config, data_root, dict(
            checkpoint='iter_{}.pth'.format(
                Config.fromfile(args.det_config).train_cfg.max_iters)),
        args.cache_dir)
    lm = given('hf_model', args.llm_dir) or run_stage(
        'language', args.lm_config, data_root, dict(hf_model='hf_model'),
        args.cache_dir)

    cfg = Config.fromfile(args.config)
    set_data_root(cfg, data_root)
    cfg.work_dir = args.work_dir
    cfg.model.detector_checkpoint = det['outputs']['checkpoint']
    cfg.model.llm.name_or_path = lm['outputs']['hf_model']
    cfg.val_dataloader.dataset = cfg.val_dataset
    cfg.test_dataloader.dataset = cfg.val_dataset
    cfg.val_evaluator = cfg.test_evaluator = cfg.val_evaluator
    if args.max_iters:
        cfg.train_cfg.max_iters = args.max_iters
    # evaluate once, after training (below, on val and corner)
    cfg.train_cfg.val_interval = cfg.train_cfg.max_iters + 1
    cfg.default_hooks.checkpoint.interval = cfg.train_cfg.max_iters

    start = time.perf_counter()
    fresh_visualizer(cfg)
    Runner.from_cfg(cfg).train()
    joint_min = (time.perf_counter() - start) / 60
    checkpoint = osp.join(args.work_dir,
                          f'iter_{cfg.train_cfg.max_iters}.pth')

    start = time.perf_counter()
    splits, mech = {}, {}
    for split in ('val', 'corner'):
        metrics, runner = evaluate(cfg, split, checkpoint, args.work_dir,
                                   args.show_images)
        splits[split] = split_summary(metrics, stats, split)
        if split == 'val':
            mech = mechanism_stats(runner)
    eval_min = (time.perf_counter() - start) / 60
    summary = dict(
        splits=splits,
        gates=mech.get('gates', {}),
        soft_token_spread=mech.get('soft_token_spread'),
        minutes=dict(
            detector_pretrain=det['minutes'],
            language_pretrain=lm['minutes'],
            joint=round(joint_min, 2),
            evaluation=round(eval_min, 2),
            total_this_run=round((time.perf_counter() - wall) / 60, 2)),
        cached=dict(
            detector_pretrain=det['cached'], language_pretrain=lm['cached']),
        stages=dict(
            detector_pretrain=dict(dir=osp.dirname(
                det['outputs']['checkpoint']), metrics=det['metrics']),
            language_pretrain=dict(
                dir=lm['outputs']['hf_model'], metrics=lm['metrics'])),
        joint_iters=cfg.train_cfg.max_iters,
        targets={f'{split}.{key}': target
                 for key, split, target in TARGETS})
    with open(osp.join(args.work_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    ok = print_summary(summary)
    print(f'summary: {args.work_dir}/summary.json; predictions drawn under '
          f'{args.work_dir}/test_*/*/predictions; TensorBoard: tensorboard '
          f'--logdir {args.work_dir}')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
