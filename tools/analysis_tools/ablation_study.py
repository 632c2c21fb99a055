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
evaluated on ``val``, ``corner`` and ``novel`` and appended to
``docs/results/cornershapes.json`` as soon as it finishes; a rerun skips
the runs already there. ``docs/results.md`` and the bar plot are rewritten
after each run.
"""
import argparse
import copy
import json
import math
import os
import os.path as osp
import statistics
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools'))

CONFIG = osp.join('configs', 'mrmllm',
                  'mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes.py')
SPLITS = ('val', 'corner', 'novel')
OFF = dict(use_det_feats_in_fusion=False, use_feedback=False,
           use_box_tokens=False, use_perception_prompt=False)
# name → (model switches on top of the joint config, what it means)
VARIANTS = {
    'detector_only': (dict(variant='detector_only'),
                      'the detector alone (baseline)'),
    'mllm_only': (dict(variant='mllm_only'),
                  'the MLLM alone: same pretrained LLM, no detector, no '
                  'perception prompt (baseline)'),
    'joint_no_coupling': (dict(OFF), 'both trained together, every '
                          'coupling off: shared training only'),
    'fusion': (dict(OFF, use_det_feats_in_fusion=True),
               '+ shared query fusion (detector features in the fusion '
               'memory)'),
    'fusion_feedback': (dict(OFF, use_det_feats_in_fusion=True,
                             use_feedback=True),
                        '+ perception feedback into the detector'),
    'fusion_feedback_detach': (dict(OFF, use_det_feats_in_fusion=True,
                                    use_feedback=True,
                                    detach_perception=True),
                               '+ feedback, LM gradient stopped at the '
                               'detector (detach_perception)'),
    'box_tokens': (dict(OFF, use_det_feats_in_fusion=True,
                        use_feedback=True, use_box_tokens=True),
                   '+ box tokens'),
    'mrmllm': (dict(), 'full MR-MLLM (+ perception prompt)'),
    'concat_fusion': (dict(fusion=dict(perception_merge='concat')),
                      'full MR-MLLM, concat fusion variant'),
    # an attempt to make the coupling work: the gates stay ~1e-3 after
    # training from zero, so start them open
    'mrmllm_open_gates': (dict(fusion=dict(p_gate_init=0.1),
                               feedback=dict(gate_init=0.1)),
                          'full MR-MLLM, fusion and feedback gates start at '
                          '0.1 instead of 0'),
}
MAIN = ('mrmllm', 'detector_only', 'mllm_only')
# run order: the main comparison first, then the ablations, then seeds
PLAN = ([(v, 0) for v in MAIN] + [(v, 1) for v in MAIN] +
        [(v, 0) for v in VARIANTS if v not in MAIN] +
        [(v, 2) for v in MAIN])
RESULTS = osp.join('docs', 'results', 'cornershapes.json')


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


# ------------------------------------------------------------- results file
def load_results(path):
    if not osp.isfile(path):
        return dict(runs=[])
    with open(path) as f:
        return json.load(f)


def save_results(path, results):
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(results, f, indent=1)
    os.replace(tmp, path)


def done(results, variant, seed, iters):
    return any(r['variant'] == variant and r['seed'] == seed
               and r.get('iters') == iters for r in results['runs'])


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
    row['minutes'] = round((time.perf_counter() - start) / 60, 2)
    row['train_minutes'] = round(train_min, 2)
    results = load_results(args.results)
    results['runs'] = [
        r for r in results['runs']
        if not (r['variant'] == variant and r['seed'] == seed
                and r.get('iters') == iters)
    ] + [row]
    save_results(args.results, results)


# ---------------------------------------------------------------- report
def mean_std(values):
    values = [v for v in values if v is not None and v >= 0]
    if not values:
        return None, None
    if len(values) == 1:
        return values[0], None
    return statistics.mean(values), statistics.stdev(values)


def fmt(values):
    m, s = mean_std(values)
    if m is None:
        return '–'
    return f'{m:.3f}' if s is None else f'{m:.3f} ± {s:.3f}'


def rows_by_variant(results, iters=None):
    out = {}
    for r in results['runs']:
        if iters is None or r.get('iters') == iters:
            out.setdefault(r['variant'], []).append(r)
    return out


def table(results):
    rows = rows_by_variant(results)
    head = ('| variant | seeds | val mAP | corner mAP | novel mAP | val VQA '
            '| corner VQA | novel VQA | val colour | min/run |')
    lines = [head, '|' + '---|' * 10]
    for name in VARIANTS:
        runs = rows.get(name)
        if not runs:
            continue

        def get(split, key, runs=runs):
            return [r[split].get(key) for r in runs if split in r]

        lines.append(
            f'| `{name}` | {len(runs)} | {fmt(get("val", "bbox_mAP"))} | '
            f'{fmt(get("corner", "bbox_mAP"))} | '
            f'{fmt(get("novel", "bbox_mAP"))} | '
            f'{fmt(get("val", "vqa_acc"))} | '
            f'{fmt(get("corner", "vqa_acc"))} | '
            f'{fmt(get("novel", "vqa_acc"))} | '
            f'{fmt([r["val"]["vqa_acc_by_type"].get("colour") for r in runs])}'
            f' | {statistics.mean(r["minutes"] for r in runs):.1f} |')
    return '\n'.join(lines)


def comparisons(results):
    rows = rows_by_variant(results)
    out = []

    def diff(a, b, split, key, target, label):
        if a not in rows or b not in rows:
            out.append(f'- {label}: not measured yet')
            return
        ma, sa = mean_std([r[split].get(key) for r in rows[a]])
        mb, sb = mean_std([r[split].get(key) for r in rows[b]])
        if ma is None or mb is None:
            out.append(f'- {label}: not measured yet')
            return
        d = ma - mb
        noise = max(s for s in (sa, sb, 0.0) if s is not None)
        seeds = min(len(rows[a]), len(rows[b]))
        verdict = 'met' if d >= target and (seeds > 1 and abs(d) > noise) \
            else ('within noise' if seeds > 1 and abs(d) <= noise
                  else ('missed' if d < target else
                        'met on one seed (noise unknown)'))
        out.append(f'- {label}: {ma:.3f} vs {mb:.3f}, difference '
                   f'{d:+.3f} (target {target:+.2f}; std {noise:.3f}; '
                   f'{seeds} seed(s)): **{verdict}**')

    diff('mrmllm', 'detector_only', 'corner', 'bbox_mAP', 0.03,
         'corner mAP, MR-MLLM vs detector only')
    diff('mrmllm', 'detector_only', 'val', 'bbox_mAP', -0.01,
         'val mAP, MR-MLLM vs detector only (no loss)')
    diff('mrmllm', 'mllm_only', 'val', 'vqa_acc', 0.10,
         'val VQA, MR-MLLM vs MLLM only')
    diff('mrmllm', 'mllm_only', 'corner', 'vqa_acc', 0.10,
         'corner VQA, MR-MLLM vs MLLM only')
    return '\n'.join(out)


def plot(results, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = rows_by_variant(results)
    names = [n for n in VARIANTS if n in rows]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for ax, key, title in ((axes[0], 'bbox_mAP', 'bbox mAP'),
                           (axes[1], 'vqa_acc', 'VQA accuracy')):
        width = 0.8 / len(SPLITS)
        for k, split in enumerate(SPLITS):
            means, stds = [], []
            for n in names:
                m, s = mean_std([r.get(split, {}).get(key)
                                 for r in rows[n]])
                means.append(math.nan if m is None else m)
                stds.append(0.0 if s is None else s)
            xs = [i + (k - 1) * width for i in range(len(names))]
            ax.bar(xs, means, width, yerr=stds, label=split, capsize=2)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=35, ha='right', fontsize=8)
        ax.set_title(title)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def report(args):
    results = load_results(args.results)
    out_dir = osp.dirname(args.results)
    png = osp.join(out_dir, 'cornershapes.png')
    if results['runs']:
        plot(results, png)
    total = sum(r['minutes'] for r in results['runs'])
    planned = len(PLAN)
    meaning = '\n'.join(f'| `{n}` | {d} |' for n, (_, d) in VARIANTS.items())
    gates = '\n'.join(
        f'| `{r["variant"]}` | {r["seed"]} | ' + ', '.join(
            f'{k.split(".")[-1] if "layer" not in k else k.split(".")[-2]}'
            f'={v:.4f}' for k, v in sorted(r.get('gates', {}).items())) +
        f' | {r.get("soft_token_spread")} |' for r in results['runs'])
    # the written analysis (kept by hand next to the numbers it discusses)
    notes = osp.join(out_dir, 'analysis.md')
    analysis = ''
    if osp.isfile(notes):
        with open(notes) as f:
            analysis = '\n' + f.read().strip() + '\n'
    text = f"""# Results: does the mutual reinforcement show on CornerShapes?

Produced by `python tools/analysis_tools/ablation_study.py` (resumable;
raw numbers in `docs/results/cornershapes.json`). Every row trains the
main job's joint stage (`{CONFIG}`: DINO R-18 from the detector
pre-training stage, the 4-layer Llama from the language pre-training stage,
250 iterations, batch 8, the same data and images seen) with the switches
below, and is evaluated on `val` (common looks), `corner` (corner-case
looks the detector never saw boxes of) and `novel` (unseen looks).
Seeds change the joint stage only. Tuned on `val` only. 2 CPU cores.

Runs done: {len(results["runs"])} of the {planned} planned; compute so far
{total:.0f} min. Mean ± std over seeds where there are several.

{table(results) if results["runs"] else "(no run yet)"}

![main rows](results/cornershapes.png)

## The paper's claims, measured

{comparisons(results)}

A difference counts only outside one std across seeds.
{analysis}
## Rows

| variant | meaning |
|---|---|
{meaning}

## Gates after training (mean |g|) and soft-token spread

| variant | seed | gates | spread |
|---|---|---|---|
{gates}
"""
    with open(osp.join(osp.dirname(out_dir), 'results.md'), 'w') as f:
        f.write(text)


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
