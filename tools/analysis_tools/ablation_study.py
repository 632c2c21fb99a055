"""The claim study on CornerShapes: baselines, MR-MLLM and its ablations,
trained and evaluated from the same starting points, resumable.

Usage::

    python tools/analysis_tools/ablation_study.py            # the whole grid
    python tools/analysis_tools/ablation_study.py --only mrmllm detector_only
    python tools/analysis_tools/ablation_study.py --report   # tables only

Every row is the main job's joint stage (``configs/mrmllm/
mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes.py``: same pretrained detector
and LLM from the cached pre-training stages, same data, iterations, batch
and images seen) with some switches changed; only the joint stage's seed
differs between seeds. Each run trains in its own process (log under
``<work-dir>/logs``), resumes from its last checkpoint if it was killed, is
evaluated on ``val``, ``corner`` and ``novel`` (and, with an LLM, on
POPE's probes of each split: F1 per negative sampling under ``pope``; the
probes are built once under ``<data-root>/pope``) and appended to
``docs/results/cornershapes.json`` as soon as it finishes; a rerun skips
the runs already there. ``docs/results.md`` and the bar plot
(``ablation_report.py``) are rewritten after each run.
"""
import argparse
import copy
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools'))

from ablation_grid import (  # noqa: E402
    CONFIG,
    PLAN,
    POPE_CONFIG,
    POPE_TEMPLATE,
    RESULTS,
    SPLITS,
    VARIANTS,
)
from ablation_report import (  # noqa: E402,F401
    comparisons,
    done,
    load_results,
    report,
    save_results,
    table,
)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--work-dir', default='work_dirs/ablation')
    p.add_argument('--data-root', default='data/cornershapes')
    p.add_argument('--results', default=RESULTS)
    p.add_argument('--only', nargs='+', choices=list(VARIANTS),
                   help='run only these variants (their planned seeds)')
    p.add_argument('--seeds', type=int, nargs='+', default=None,
                   help='run only these seeds')
    p.add_argument('--max-iters', type=int, default=None,
                   help="joint iterations (default: the config's; runs "
                   'with another value are kept apart)')
    p.add_argument('--det-checkpoint', default=None,
                   help='detector stage output (default: the cached stage)')
    p.add_argument('--llm-dir', default=None,
                   help='language stage output (default: the cached stage)')
    p.add_argument('--report', action='store_true',
                   help='only rewrite docs/results.md and the plot')
    p.add_argument('--run', nargs=2, metavar=('VARIANT', 'SEED'),
                   help=argparse.SUPPRESS)
    p.add_argument('--stage-outputs', help=argparse.SUPPRESS)
    return p.parse_args()

# --------------------------------------------------------------- one run
def metrics_for(evaluator, mode):
    """The evaluator without the metrics a baseline has no outputs for
    (box metrics without a detector, VQA without an LLM)."""
    skip = dict(mllm_only=('CocoMetric', 'CornerRecall'),
                detector_only=('VQAAccuracy', )).get(mode, ())
    evaluator = copy.deepcopy(evaluator)

    def name(metric):
        t = metric['type']
        return t if isinstance(t, str) else getattr(t, '__name__', str(t))

    evaluator.metrics = [
        m for m in evaluator.metrics
        if not any(s in name(m) for s in skip)
    ]
    return evaluator


def ensure_pope(data_root):
    """Build the POPE probes of each split unless they are there, built
    with :data:`POPE_TEMPLATE`."""
    from mmmrmllm.datasets.pope import write_pope_questions
    for split in SPLITS:
        out = osp.join(data_root, 'pope', f'{split}.json')
        if osp.isfile(out):
            with open(out) as f:
                meta = json.load(f)['metainfo'].get('pope', {})
            if meta.get('template') == POPE_TEMPLATE:
                continue
        # three classes: one present and one absent class per image
        write_pope_questions(
            osp.join(data_root, 'annotations', f'{split}.json'), out,
            min_classes=1, template=POPE_TEMPLATE)


def evaluate_pope(cfg, args, ckpt):
    """POPE's F1 and yes-ratio per sampling on each split, one test pass
    over a split's probes (all samplings together).

    Returns:
        dict: ``{split: dict(pope={sampling: F1}, pope_yes_ratio=...)}``.
    """
    import demo
    from mmengine.config import Config

    from mmmrmllm.datasets.pope import SAMPLINGS
    ensure_pope(args.data_root)
    pope = Config.fromfile(POPE_CONFIG)
    demo.set_data_root(pope, args.data_root)
    cfg = copy.deepcopy(cfg)
    out = {}
    for split in SPLITS:
        cfg[f'pope_{split}_dataset'] = pope[f'pope_{split}_dataset']
        cfg[f'pope_{split}_evaluator'] = pope.pope_evaluator
        metrics, _ = demo.evaluate(cfg, f'pope_{split}', ckpt, cfg.work_dir,
                                   0)
        out[split] = {
            key: {s: metrics.get(f'pope/{s}_{name}') for s in SAMPLINGS}
            for key, name in (('pope', 'f1'), ('pope_yes_ratio', 'yes_ratio'))
        }
    return out


def run_one(args, variant, seed):
    """Train and evaluate one row (inside its own process)."""
    import demo
    from mmengine.config import Config
    from mmengine.runner import Runner

    from mmmrmllm.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    stats = demo.ensure_data(args.data_root)
    stages = json.loads(args.stage_outputs)
    cfg = Config.fromfile(CONFIG)
    demo.set_data_root(cfg, args.data_root)
    switches = copy.deepcopy(VARIANTS[variant][0])
    nested = {k: switches.pop(k) for k in ('fusion', 'feedback')
              if k in switches}
    cfg.model.update(switches)
    for key, value in nested.items():  # update, not replace, the part
        cfg.model[key].update(value)
    cfg.model.detector_checkpoint = stages['checkpoint']
    cfg.model.llm.name_or_path = stages['hf_model']
    cfg.randomness = dict(seed=seed)
    if args.max_iters:
        cfg.train_cfg.max_iters = args.max_iters
    iters = cfg.train_cfg.max_iters
    cfg.train_cfg.val_interval = iters + 1  # evaluated below
    cfg.default_hooks.checkpoint.interval = min(100, iters)
    cfg.work_dir = osp.join(args.work_dir, f'{variant}_s{seed}_{iters}i')
    for key in ('val_evaluator', 'corner_evaluator'):
        cfg[key] = metrics_for(cfg[key], cfg.model.get('variant', 'joint'))
    cfg.val_dataloader.dataset = cfg.val_dataset
    cfg.test_dataloader.dataset = cfg.val_dataset
    cfg.val_evaluator = cfg.test_evaluator = cfg.val_evaluator
    ckpt = osp.join(cfg.work_dir, f'iter_{iters}.pth')
    start = time.perf_counter()
    if not osp.isfile(ckpt):
        cfg.resume = osp.isfile(osp.join(cfg.work_dir, 'last_checkpoint'))
        demo.fresh_visualizer(cfg)
        Runner.from_cfg(cfg).train()
    train_min = (time.perf_counter() - start) / 60
    cfg.novel_dataset = copy.deepcopy(cfg.corner_dataset)
    cfg.novel_dataset.update(ann_file='annotations/novel.json',
                             question_file='questions/novel.json')
    cfg.novel_evaluator = copy.deepcopy(cfg.corner_evaluator)
    for metric in cfg.novel_evaluator.metrics:
        if 'ann_file' in metric:  # the COCO metric (absent: MLLM only)
            metric.ann_file = osp.join(args.data_root, 'annotations',
                                       'novel.json')
    row = dict(variant=variant, seed=seed, config=CONFIG, iters=iters,
               switches=VARIANTS[variant][0])
    for split in SPLITS:
        metrics, runner = demo.evaluate(cfg, split, ckpt, cfg.work_dir, 0)
        summary = demo.split_summary(metrics, stats, split)
        row[split] = {k: v for k, v in summary.items()
                      if k not in ('majority', 'majority_by_type')}
        row[split]['majority'] = summary['majority']
        if split == 'val':
            row.update(demo.mechanism_stats(runner))
    if cfg.model.get('variant', 'joint') != 'detector_only':
        for split, pope in evaluate_pope(cfg, args, ckpt).items():
            row[split].update(pope)
    row['minutes'] = round((time.perf_counter() - start) / 60, 2)
    row['train_minutes'] = round(train_min, 2)
    results = load_results(args.results)
    results['runs'] = [
        r for r in results['runs']
        if not (r['variant'] == variant and r['seed'] == seed
                and r.get('iters') == iters)
    ] + [row]
    save_results(args.results, results)

# ------------------------------------------------------------------ main
def stage_outputs(args):
    import demo
    from mmengine.config import Config

    from mmmrmllm.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    demo.ensure_data(args.data_root)
    det = demo.given('checkpoint', args.det_checkpoint) or demo.run_stage(
        'detector', demo.DET_CONFIG, args.data_root, dict(
            checkpoint='iter_{}.pth'.format(
                Config.fromfile(demo.DET_CONFIG).train_cfg.max_iters)),
        None)
    lm = demo.given('hf_model', args.llm_dir) or demo.run_stage(
        'language', demo.LM_CONFIG, args.data_root,
        dict(hf_model='hf_model'), None)
    return dict(checkpoint=det['outputs']['checkpoint'],
                hf_model=lm['outputs']['hf_model'])


def main():
    args = parse_args()
    os.chdir(ROOT)
    if args.run:
        run_one(args, args.run[0], int(args.run[1]))
        return
    if args.report:
        report(args)
        return
    from mmengine.config import Config
    iters = args.max_iters or Config.fromfile(CONFIG).train_cfg.max_iters
    plan = [(v, s) for v, s in PLAN
            if (not args.only or v in args.only)
            and (args.seeds is None or s in args.seeds)]
    todo = [(v, s) for v, s in plan
            if not done(load_results(args.results), v, s, iters)]
    print(f'[study] {len(plan) - len(todo)} of {len(plan)} runs done; '
          f'{len(todo)} to go', flush=True)
    if not todo:
        report(args)
        return
    outputs = json.dumps(stage_outputs(args))
    logs = osp.join(args.work_dir, 'logs')
    os.makedirs(logs, exist_ok=True)
    took = []
    for k, (variant, seed) in enumerate(todo):
        log = osp.join(logs, f'{variant}_s{seed}.log')
        eta = ''
        if took:
            eta = f', ETA {statistics.mean(took) * (len(todo) - k):.0f} min'
        print(f'[study] {k + 1}/{len(todo)}: {variant} seed {seed} '
              f'(log {log}{eta})', flush=True)
        start = time.perf_counter()
        cmd = [sys.executable, osp.abspath(__file__), '--run', variant,
               str(seed), '--stage-outputs', outputs, '--work-dir',
               args.work_dir, '--data-root', args.data_root, '--results',
               args.results]
        if args.max_iters:
            cmd += ['--max-iters', str(args.max_iters)]
        with open(log, 'a') as f:
            ret = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
        minutes = (time.perf_counter() - start) / 60
        took.append(minutes)
        if ret.returncode:
            print(f'[study] {variant} seed {seed} FAILED after '
                  f'{minutes:.1f} min (exit {ret.returncode}); see {log}',
                  flush=True)
            continue
        report(args)
        print(f'[study] {variant} seed {seed} done in {minutes:.1f} min',
              flush=True)
    report(args)


if __name__ == '__main__':
    main()
