"""The claim study on CornerShapes: baselines, MR-MLLM and its ablations,
trained and evaluated from the same starting points, resumable.

Usage::

    python tools/analysis_tools/ablation_study.py            # the whole grid
    python tools/analysis_tools/ablation_study.py --only mrmllm detector_only
    python tools/analysis_tools/ablation_study.py --report   # tables only
    python tools/analysis_tools/ablation_study.py --dry-run  # the plan only
    # a mechanism of one's own as one more row (docs/extending.md)
    python tools/analysis_tools/ablation_study.py --extra my_config.py

Every row starts from the main job's stage outputs, as ``make demo``
gets them (``tools/demo.py``; cached per machine, or ``--det-checkpoint``
/ ``--mllm-dir``): MR-MLLM and its ablations are the joint stage
(``configs/mrmllm/mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes.py``) on
stage 1a's detector and stage 1c's InstructBLIP directory with some
switches changed; ``detector_only`` is stage 1a fine-tuned and
``mllm_only`` stage 1c fine-tuned (``configs/baselines/``), same data,
iterations and batch; only the joint stage's seed differs between seeds.
Each run trains in its own process (log under ``<work-dir>/logs``),
resumes from its last checkpoint if it was killed, is evaluated on
``val``, ``corner`` and ``novel`` (and, with an LLM, on POPE's probes of
each split: F1 per negative sampling under ``pope``; the probes are built
once under ``<data-root>/pope``), runs the knowledge probe, and is
appended to ``docs/results/cornershapes.json`` with its CPU minutes as
soon as it finishes; a rerun skips the runs already there. Runs of the
first study (stage 1b's bare LLM) move to ``earlier_runs`` there.
``docs/results.md`` and the bar plot (``ablation_report.py``) are
rewritten after each run.
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

from ablation_eval import (  # noqa: E402,F401
    add_novel_split,
    cpu_minutes,
    ensure_pope,
    evaluate_pope,
    metrics_for,
)
from ablation_grid import (  # noqa: E402,F401
    CONFIG,
    PLAN,
    POPE_TEMPLATE,
    RESULTS,
    SPLITS,
    VARIANTS,
    WIRING,
    extra_rows,
    plan,
)
from ablation_report import (  # noqa: E402,F401
    comparisons,
    descriptions,
    done,
    load_results,
    report,
    retire_earlier_runs,
    save_results,
    table,
    verdict,
)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--work-dir', default='work_dirs/ablation')
    p.add_argument('--data-root', default='data/cornershapes')
    p.add_argument('--results', default=RESULTS)
    p.add_argument('--extra', nargs='+', default=[], metavar='CONFIG',
                   help='one more row per config: its ablation_row names '
                   'and describes it (docs/extending.md)')
    p.add_argument('--only', nargs='+', metavar='VARIANT',
                   help='run only these variants (their planned seeds)')
    p.add_argument('--seeds', type=int, nargs='+', default=None,
                   help='run only these seeds')
    p.add_argument('--max-iters', type=int, default=None,
                   help="joint iterations (default: the config's; runs "
                   'with another value are kept apart)')
    p.add_argument('--det-checkpoint', default=None,
                   help='detector stage (1a) output (default: the cached '
                   'stage)')
    p.add_argument('--llm-dir', default=None,
                   help='language stage (1b) output, to train stage 1c '
                   'on (default: the cached stage)')
    p.add_argument('--mllm-dir', default=None,
                   help='MLLM stage (1c) output, an InstructBLIP directory '
                   '(default: the cached stage)')
    p.add_argument('--dry-run', action='store_true',
                   help='print the rows and the runs to do; train nothing')
    p.add_argument('--report', action='store_true',
                   help='only rewrite docs/results.md and the plot')
    p.add_argument('--run', nargs=2, metavar=('VARIANT', 'SEED'),
                   help=argparse.SUPPRESS)
    p.add_argument('--stage-outputs', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    # the study works from the repository root (os.chdir in main)
    args.extra = [osp.abspath(c) for c in args.extra]
    args.rows = dict(VARIANTS, **extra_rows(args.extra))
    unknown = set(args.only or ()) - set(args.rows)
    if unknown:
        p.error(f'--only: no row {sorted(unknown)}; rows: {list(args.rows)}')
    args.plan = plan(args.rows)
    return args


# --------------------------------------------------------------- one run
def run_config(args, variant, seed, stages):
    """One run's config: the row's config on the stage outputs as the main
    job gets them (``demo.joint_config``: 1a's checkpoint unless MLLM only,
    1c's directory unless detector only), its switches, the seed, a work
    dir of its own (kept per wiring: a checkpoint of another wiring is
    never resumed), evaluation below after training."""
    import demo
    row = args.rows[variant]
    cfg = demo.joint_config(row.config, args.data_root, args.work_dir,
                            stages['checkpoint'], stages['hf_instructblip'],
                            args.max_iters, seed)
    switches = copy.deepcopy(row.switches)
    nested = {k: switches.pop(k) for k in ('fusion', 'feedback')
              if k in switches}
    cfg.model.update(switches)
    for key, value in nested.items():  # update, not replace, the part
        cfg.model[key].update(value)
    iters = cfg.train_cfg.max_iters
    cfg.default_hooks.checkpoint.interval = min(100, iters)  # resumable
    cfg.work_dir = osp.join(args.work_dir, f'wiring{WIRING}',
                            f'{variant}_s{seed}_{iters}i')
    mode = cfg.model.get('variant', 'joint')
    for key in ('val_evaluator', 'corner_evaluator'):
        cfg[key] = metrics_for(cfg[key], mode)
    cfg.val_evaluator = cfg.test_evaluator = cfg.val_evaluator
    add_novel_split(cfg, args.data_root)
    return cfg


def run_one(args, variant, seed):
    """Train and evaluate one row (inside its own process)."""
    import demo
    from mmengine.runner import Runner

    from mmmrmllm.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    stats = demo.ensure_data(args.data_root)
    stages = json.loads(args.stage_outputs)
    cfg = run_config(args, variant, seed, stages)
    iters = cfg.train_cfg.max_iters
    ckpt = osp.join(cfg.work_dir, f'iter_{iters}.pth')
    start = time.perf_counter()
    if not osp.isfile(ckpt):
        cfg.resume = osp.isfile(osp.join(cfg.work_dir, 'last_checkpoint'))
        demo.fresh_visualizer(cfg)
        Runner.from_cfg(cfg).train()
    train_min = (time.perf_counter() - start) / 60
    row_def = args.rows[variant]
    row = dict(variant=variant, seed=seed, config=row_def.config,
               iters=iters, switches=row_def.switches,
               description=row_def.description, wiring=WIRING,
               stages=stages)
    for split in SPLITS:
        metrics, runner = demo.evaluate(cfg, split, ckpt, cfg.work_dir, 0)
        summary = demo.split_summary(metrics, stats, split)
        row[split] = {k: v for k, v in summary.items()
                      if k not in ('majority', 'majority_by_type')}
        row[split]['majority'] = summary['majority']
        if split == 'val':
            row.update(demo.mechanism_stats(runner))
            # does the feedback carry the MLLM's knowledge of corner looks
            # into the detector's features? (the main job's probe)
            row['knowledge_probe'] = demo.probe(runner.model, cfg)
    if cfg.model.get('variant', 'joint') != 'detector_only':
        for split, pope in evaluate_pope(cfg, args, ckpt).items():
            row[split].update(pope)
    row['minutes'] = round((time.perf_counter() - start) / 60, 2)
    row['train_minutes'] = round(train_min, 2)
    row['cpu_minutes'] = round(cpu_minutes(), 2)
    results = load_results(args.results)
    results['runs'] = [
        r for r in results['runs']
        if not (r['variant'] == variant and r['seed'] == seed
                and r.get('iters') == iters)
    ] + [row]
    save_results(args.results, results)


# ------------------------------------------------------------------ main
def stage_outputs(args):
    """Stage 1a's checkpoint and stage 1c's InstructBLIP directory, from
    the user or the main job's stage cache (trained there if missing, 1c
    on 1b's LLM as ``make demo`` does; default seed 0, as ``make
    demo``)."""
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
    mllm = demo.given('hf_instructblip', args.mllm_dir)
    if mllm is None:
        lm = demo.given('hf_model', args.llm_dir) or demo.run_stage(
            'language', demo.LM_CONFIG, args.data_root,
            dict(hf_model='hf_model'), None)

        def on_language_stage(cfg):
            cfg.model.llm.name_or_path = lm['outputs']['hf_model']

        mllm = demo.run_stage('mllm', demo.MLLM_CONFIG, args.data_root,
                              dict(hf_instructblip='hf_instructblip'), None,
                              update=on_language_stage)
    return dict(checkpoint=det['outputs']['checkpoint'],
                hf_instructblip=mllm['outputs']['hf_instructblip'])


def todo_runs(args):
    """The planned runs (after ``--only``/``--seeds``) and those not in
    the results yet, each with its iterations."""
    from mmengine.config import Config
    per_config = {}  # a row's iterations are its config's
    for row in args.rows.values():
        if row.config not in per_config:
            per_config[row.config] = args.max_iters or Config.fromfile(
                row.config).train_cfg.max_iters
    iters = {v: per_config[row.config] for v, row in args.rows.items()}
    planned = [(v, s) for v, s in args.plan
               if (not args.only or v in args.only)
               and (args.seeds is None or s in args.seeds)]
    results = load_results(args.results)
    todo = [(v, s) for v, s in planned
            if not done(results, v, s, iters[v], WIRING)]
    return planned, todo


def print_plan(args, todo):
    for name, row in args.rows.items():
        switches = f' + {row.switches}' if row.switches else ''
        print(f'[study] row {name} (seeds {list(row.seeds)}): '
              f'{row.config}{switches}: '
              f'{row.description}')
    for variant, seed in todo:
        print(f'[study] to run: {variant} seed {seed}')


def run_grid(args, todo):
    """Each run in its own process, one after the other; prints its wall
    and CPU minutes, and the grid's CPU total at the end."""
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
        start, cpu = time.perf_counter(), cpu_minutes(children_only=True)
        cmd = [sys.executable, osp.abspath(__file__), '--run', variant,
               str(seed), '--stage-outputs', outputs, '--work-dir',
               args.work_dir, '--data-root', args.data_root, '--results',
               args.results]
        if args.max_iters:
            cmd += ['--max-iters', str(args.max_iters)]
        if args.extra:
            cmd += ['--extra', *args.extra]
        with open(log, 'a') as f:
            ret = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
        minutes = (time.perf_counter() - start) / 60
        cpu = cpu_minutes(children_only=True) - cpu
        took.append(minutes)
        if ret.returncode:
            print(f'[study] {variant} seed {seed} FAILED after '
                  f'{minutes:.1f} min, {cpu:.1f} CPU min (exit '
                  f'{ret.returncode}); see {log}', flush=True)
            continue
        report(args)
        print(f'[study] {variant} seed {seed} done in {minutes:.1f} min, '
              f'{cpu:.1f} CPU min', flush=True)
    runs = load_results(args.results)['runs']
    print(f'[study] grid: {sum(r.get("cpu_minutes") or 0 for r in runs):.1f}'
          f' CPU min over {len(runs)} runs ({sum(took):.1f} min wall in '
          'this session)', flush=True)


def main(argv=None):
    args = parse_args(argv)
    os.chdir(ROOT)
    if args.run:
        run_one(args, args.run[0], int(args.run[1]))
        return
    if args.report:
        report(args)
        return
    planned, todo = todo_runs(args)
    print(f'[study] {len(planned) - len(todo)} of {len(planned)} runs done; '
          f'{len(todo)} to go', flush=True)
    if args.dry_run:
        print_plan(args, todo)
        return
    results = load_results(args.results)
    if retire_earlier_runs(results):
        save_results(args.results, results)
    if todo:
        run_grid(args, todo)
    report(args)


if __name__ == '__main__':
    main()
