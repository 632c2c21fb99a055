"""The main job (``make demo``): CornerShapes end to end on a CPU, staged
as in the paper (a pretrained detector + a pretrained multimodal LLM, then
joint training).

1. generates CornerShapes (images, boxes, questions and a subword
   tokenizer) into ``data/cornershapes`` if it is missing;
2. stage 1a, detector pre-training (``configs/pretrain/dino_r18_*``),
   stage 1b, language pre-training (``configs/pretrain/llama_4l_*``, a
   Hugging Face directory) and stage 1c, MLLM pre-training
   (``configs/pretrain/instructblip_llama_4l_*``, on 1b's LLM; an
   InstructBLIP directory): cached under the user's cache folder by a hash
   of config (seed included), the code each stage runs, data and the
   stages it reads (``mmmrmllm.utils.stages``), so they run once per
   machine and seed and again only when one of those changes (the job
   says which stages it reused, and why it retrains one);
3. the pre-trained MLLM alone, zero-shot, on ``val``, ``val_phrasing``
   (``val``'s questions in phrasings training never uses) and ``corner``;
4. stage 2, joint MR-MLLM training from 1a and 1c (``--config``), its
   evaluation on ``val``, ``val_phrasing`` and ``corner`` with drawn
   predictions, and the knowledge probe before and after it;
5. the MLLM-only baseline: 1c fine-tuned on the joint data for as many
   iterations;
6. writes ``<work-dir>/summary.json`` and prints it, with a table of the
   targets, each PASS or MISS.

A job that ran to the end exits 0, whatever its targets (a missed target is
a research result, not a failure); with ``--strict`` a missed target exits
with status 3 (for CI). A crash or bad input exits non-zero either way.

Usage: python tools/demo.py [--seed S] [--work-dir DIR] [--max-iters N]
    [--det-checkpoint CKPT] [--llm-dir DIR] [--mllm-dir DIR]
    [--skip-baseline] [--strict]
"""
import argparse
import copy
import json
import os.path as osp
import shutil
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
MLLM_CONFIG = osp.join(
    ROOT, 'configs', 'pretrain',
    'instructblip_llama_4l_1xb32_2000i_cornershapes_vl.py')
MLLM_BASELINE = osp.join(ROOT, 'configs', 'baselines',
                         'mllm_llama_4l_1xb8_250i_cornershapes.py')
QUESTION_TYPES = ('existence', 'counting', 'colour', 'shape_at_position',
                  'relative_position')
# (summary section, key, split, target); issue "The MLLM sees"
TARGETS = (('mllm_zero_shot', 'vqa_acc_by_type.colour', 'val', 0.80),
           ('mllm_zero_shot', 'vqa_acc', 'val', 0.55),
           ('splits', 'bbox_mAP', 'val', 0.80),
           ('splits', 'vqa_acc', 'val', 0.80),
           ('splits', 'vqa_acc_by_type.counting', 'val', 0.85),
           ('splits', 'vqa_acc_by_type.shape_at_position', 'val', 0.85),
           ('splits', 'vqa_acc_by_type.colour', 'val', 0.80),
           ('splits', 'vqa_acc_by_type.existence', 'val', 0.70),
           ('splits', 'vqa_acc_by_type.relative_position', 'val', 0.70),
           ('splits', 'vqa_acc', 'corner', 0.60))
SPREAD_TARGET = 0.1
# issue "Questions as people type them": held-out phrasings score within
# these of the templates on val (VQA, and each question type); no empty
# answer, and at most this share of answers of the wrong type, on the
# evaluated splits
PHRASING_GAP = 0.03
PHRASING_GAP_BY_TYPE = 0.05
WRONG_TYPE_SHARE = 0.01
# the splits each model is evaluated on
SPLITS = ('val', 'val_phrasing', 'corner')
# weights in a Hugging Face directory (config and tokenizers are the rest)
WEIGHT_FILES = ('*.safetensors', '*.safetensors.index.json', '*.bin',
                '*.bin.index.json')
# the configs' data root, replaced by --data-root
DEFAULT_ROOT = 'data/cornershapes/'
# --smoke: images per split, iterations per stage, probe sizes
SMOKE_SIZES = dict(det_train=16, vqa_train=16, val=4, corner=4, novel=4)
SMOKE_ITERS = 2
SMOKE_PROBE = dict(num_train=8, num_eval=4)
# exit status of a finished job that missed a target, with --strict
MISSED_TARGET_STATUS = 3


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=CONFIG, help='joint stage')
    parser.add_argument('--det-config', default=DET_CONFIG)
    parser.add_argument('--lm-config', default=LM_CONFIG)
    parser.add_argument('--mllm-config', default=MLLM_CONFIG)
    parser.add_argument('--mllm-baseline-config', default=MLLM_BASELINE)
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of every stage (each is cached per seed)')
    parser.add_argument('--data-root', default=None,
                        help='default: data/cornershapes')
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
        '--mllm-dir', default=None,
        help='use this InstructBLIP directory instead of stage 1c')
    parser.add_argument(
        '--skip-baseline', action='store_true',
        help='do not fine-tune the MLLM-only baseline')
    parser.add_argument(
        '--show-images', type=int, default=8,
        help='predictions drawn per evaluated split')
    parser.add_argument(
        '--smoke', action='store_true',
        help='the same stages and code paths at tiny sizes (a few '
        'iterations, a few images, data and stage cache inside the work '
        'dir): checks the job and the files it leaves in minutes')
    parser.add_argument(
        '--strict', action='store_true',
        help=f'exit with status {MISSED_TARGET_STATUS} when a target is '
        'missed (without it a job that ran to the end exits 0 and the '
        'table says PASS / MISS); --smoke judges no target')
    args = parser.parse_args(argv)
    if args.smoke:
        args.data_root = args.data_root or osp.join(args.work_dir, 'data')
        args.cache_dir = args.cache_dir or osp.join(args.work_dir,
                                                    'stage_cache')
        args.show_images = min(args.show_images, 2)
    args.data_root = args.data_root or 'data/cornershapes'
    return args


def ensure_data(data_root: str, sizes=None) -> dict:
    stats_file = osp.join(data_root, 'stats.json')
    # data of an older generator lacks the held-out phrasings
    if not all(osp.isfile(osp.join(data_root, f)) for f in (
            'stats.json', 'tokenizer/tokenizer.json',
            'questions/val_phrasing.json')):
        start = time.perf_counter()
        print(f'[demo] generating CornerShapes into {data_root} ...')
        generate_cornershapes(data_root, sizes=sizes)
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
                elif isinstance(val, str) and val.startswith(DEFAULT_ROOT):
                    # ann_file, tokenizer, instruction_tokenizer, ...
                    node[key] = root + val[len(DEFAULT_ROOT):]
                else:
                    visit(val)
        elif isinstance(node, (list, tuple)):
            for val in node:
                visit(val)

    visit(cfg._cfg_dict)


def shrink(cfg: Config, iters: int = SMOKE_ITERS) -> None:
    """``--smoke``: ``iters`` training iterations of batch 2, validated
    and saved once at the end; the iterations of the config's phase hooks
    (:class:`LossWeightHook`, :class:`FreezeUntilHook`) scaled with them,
    so every phase still runs."""
    old = cfg.train_cfg.max_iters
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    cfg.train_dataloader.batch_size = 2
    for key in ('val_dataloader', 'test_dataloader'):
        if cfg.get(key):
            cfg[key].batch_size = 4
    cfg.default_hooks.checkpoint.interval = iters
    cfg.default_hooks.logger.interval = 1
    if cfg.get('log_processor'):
        cfg.log_processor.window_size = 1

    def scale(it):
        return min(iters - 1, round(it * iters / old)) if it else 0

    for hook in cfg.get('custom_hooks', []):
        if 'until_iter' in hook:
            hook['until_iter'] = scale(hook['until_iter'])
        if 'milestones' in hook:
            hook['milestones'] = [(scale(i), v)
                                  for i, v in hook['milestones']]


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
              cache_dir, seed: int = 0, update=None,
              smoke: bool = False) -> dict:
    cfg = Config.fromfile(config)
    set_data_root(cfg, data_root)
    cfg.randomness = dict(seed=seed)
    if smoke:
        shrink(cfg)
    if update is not None:
        update(cfg)
    stage = Stage(name, cfg, data_root, outputs, root=cache_dir)
    why = stage.reason()
    if not why:
        print(f'[demo] stage {name}: reused, cached in {stage.dir} (its '
              f'{len(stage.parts["code"])} source files unchanged)')
    else:
        print(f'[demo] stage {name}: training {osp.basename(config)} '
              f'because {why} (cached afterwards in {stage.dir})')
    return stage.run(train)


def stage_summary(stage: dict, path: str) -> dict:
    """A stage's entry in the summary: its output, metrics, minutes (of
    the run that trained it, when reused from the cache; of every attempt,
    when resumed) and whether it was reused or resumed."""
    return dict(dir=path, metrics=stage.get('metrics', {}),
                minutes=stage['minutes'], cached=stage['cached'],
                resumed_from_iter=stage.get('resumed_from_iter'))


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
        # a split of val's images (val_phrasing) is scored like val
        cfg.test_evaluator = cfg.get(f'{split}_evaluator',
                                     cfg.val_evaluator)
    vis = cfg.default_hooks.visualization
    vis.draw = show_images > 0
    vis.max_test_images = show_images
    vis.test_out_dir = 'predictions'
    fresh_visualizer(cfg)
    runner = Runner.from_cfg(cfg)
    return runner.test(), runner


@torch.no_grad()
def mechanism_stats(runner: Runner) -> dict:
    """Gate magnitudes (each mechanism's ``gate_parameters``) and the
    across-image spread of the soft visual tokens on up to 64 images of
    the runner's test set.

    Spread: the standard deviation of each soft-token element across
    images, averaged, divided by the standard deviation of all elements
    (1 = tokens as different between images as within; 0 = the same
    tokens for every image: a collapsed visual path).
    """
    from mmmrmllm.models import mechanism_gates
    model = runner.model
    model.eval()
    gates = {
        name: round(float(p.abs().mean()), 5)
        for name, p in mechanism_gates(model).items()
    }
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
        questions=metrics.get('vqa/num_questions'),
        empty_answers=metrics.get('vqa/num_empty'),
        wrong_type=metrics.get('vqa/type_mismatch'),
        wrong_type_by_type={
            t: metrics[f'vqa/type_mismatch_{t}']
            for t in QUESTION_TYPES if f'vqa/type_mismatch_{t}' in metrics
        },
        majority=info['majority_acc'],
        majority_by_type={
            t: e['majority_acc']
            for t, e in info['question_types'].items()
        })


def lookup(summary: dict, section: str, split: str, key: str):
    node = (summary.get(section) or {}).get(split)
    for part in key.split('.'):
        node = (node or {}).get(part)
    return node


def num(value) -> float:
    return float('nan') if value is None else value


def print_rows(title: str, splits: dict) -> None:
    print(f'{title}\n{"split":<13}{"bbox mAP":>9}{"AR corner":>10}'
          f'{"AR common":>10}{"VQA":>7}{"majority":>9}  ' + ' '.join(
              f'{t[:9]:>9}' for t in QUESTION_TYPES) +
          f'{"empty":>7}{"wrong type":>11}')
    for split, s in splits.items():
        by_type = ' '.join(
            f'{num(s["vqa_acc_by_type"].get(t)):>9.3f}'
            for t in QUESTION_TYPES)
        print(f'{split:<13}{num(s["bbox_mAP"]):>9.3f}'
              f'{num(s["AR_corner"]):>10.3f}'
              f'{num(s["AR_common"]):>10.3f}'
              f'{num(s["vqa_acc"]):>7.3f}{s["majority"]:>9.3f}  {by_type}'
              f'{num(s.get("empty_answers")):>7.0f}'
              f'{num(s.get("wrong_type")):>11.0f}')
        maj = ' '.join(f'{num(s["majority_by_type"].get(t)):>9.3f}'
                       for t in QUESTION_TYPES)
        print(f'{"":<13}{"":>45}{"majority":>9}  {maj}')


def phrasing_checks(splits: dict) -> list:
    """The issue's checks of questions as people type them, on one
    model's splits: ``(what, value, bound, passed)`` rows."""
    rows = []
    val, held = splits.get('val') or {}, splits.get('val_phrasing') or {}
    if val.get('vqa_acc') is not None and held.get('vqa_acc') is not None:
        gap = abs(held['vqa_acc'] - val['vqa_acc'])
        rows.append(('|val_phrasing - val| VQA', gap, PHRASING_GAP,
                     gap <= PHRASING_GAP))
        for t in QUESTION_TYPES:
            a = val['vqa_acc_by_type'].get(t)
            b = held['vqa_acc_by_type'].get(t)
            if a is not None and b is not None:
                rows.append((f'|val_phrasing - val| {t}', abs(b - a),
                             PHRASING_GAP_BY_TYPE,
                             abs(b - a) <= PHRASING_GAP_BY_TYPE))
    for split, s in splits.items():
        if s.get('empty_answers') is not None:
            rows.append((f'{split} empty answers', s['empty_answers'], 0,
                         s['empty_answers'] == 0))
        if s.get('wrong_type') is not None and s.get('questions'):
            share = s['wrong_type'] / s['questions']
            rows.append((f'{split} share of answers of the wrong type',
                         share, WRONG_TYPE_SHARE,
                         share <= WRONG_TYPE_SHARE))
    return rows


# the knowledge probe's evaluation sets, in the order printed (summary keys
# ``knowledge_probe.<when>.<detector|mllm|chance>.<set>``)
PROBE_SETS = ('corner_looks', 'corner', 'val')


def probe_line(res: dict) -> str:
    """One probe result as ``detector a / b / c, mllm ...`` (the accuracy
    on each of :data:`PROBE_SETS`)."""
    return ', '.join(
        f'{src} ' + ' / '.join(f'{num(res[src][k]):.3f}' for k in PROBE_SETS)
        for src in ('detector', 'mllm') if res.get(src)) + \
        f' (chance {num(res["chance"]["corner_looks"]):.3f})'


def print_probe(when: str, res: dict, seed: int) -> None:
    print(f'knowledge probe {when}, seed {seed} (object shape, linear; '
          f'{" / ".join(PROBE_SETS)}): {probe_line(res)}')
    print('| seed | features | ' + ' | '.join(PROBE_SETS) + ' |')
    for src in ('detector', 'mllm', 'chance'):
        if res.get(src):
            print(f'| {seed} | {src} | ' + ' | '.join(
                f'{num(res[src].get(k)):.3f}' for k in PROBE_SETS) + ' |')


def stage_note(summary: dict, name: str) -> str:
    """`` (cached)`` for a stage reused from the cache (its minutes are
    the training run's), `` (resumed at N)`` for one resumed after an
    interruption (its minutes count every attempt), else nothing."""
    stage = (summary.get('stages') or {}).get(name) or {}
    if summary['cached'].get(name):
        return ' (cached)'
    if stage.get('resumed_from_iter') is not None:
        return f' (resumed at {stage["resumed_from_iter"]})'
    return ''


def print_summary(summary: dict) -> bool:
    print('\n' + '=' * 78)
    mins = summary['minutes']
    print('MR-MLLM main job on CornerShapes: ' + ', '.join(
        f'{k} {v:.1f} min' + stage_note(summary, k)
        for k, v in mins.items() if v is not None))
    print_rows('MR-MLLM (joint)', summary['splits'])
    for section, title in (('mllm_zero_shot', 'stage 1c MLLM, zero-shot'),
                           ('mllm_only', 'MLLM only, fine-tuned')):
        if summary.get(section):
            print_rows(title, summary[section])
    rows = judge_targets(summary)
    print_targets(rows)
    for when in ('before_joint', 'after_joint'):
        res = (summary.get('knowledge_probe') or {}).get(when)
        if res:
            print(f'knowledge probe {when} (object shape, linear; '
                  f'{" / ".join(PROBE_SETS)}): {probe_line(res)}')
    gates = summary['gates']
    print('gates (mean |g|): ' + ', '.join(
        f'{k}={v:.4f}' for k, v in gates.items()) if gates else
        'gates: none (mechanisms off)')
    print('=' * 78)
    return rows


def judge_targets(summary: dict) -> list:
    """Every target of the job as ``(name, value, relation, bound,
    passed)``: :data:`TARGETS`, the phrasing checks and the soft-token
    spread (a value of None misses)."""
    rows = []
    for section, key, split, target in TARGETS:
        value = lookup(summary, section, split, key)
        rows.append((f'{section} {split} {key}', value, '>=', target,
                     value is not None and value >= target))
    for what, value, bound, passed in phrasing_checks(summary['splits']):
        rows.append((f'phrasing {what}', value, '<=', bound, passed))
    spread = summary['soft_token_spread']
    passed = spread is not None and spread >= SPREAD_TARGET
    rows.append(('soft-token spread across images', spread, '>=',
                 SPREAD_TARGET, passed))
    return rows


def print_targets(rows: list) -> None:
    """The targets as a table, each PASS or MISS, and their count."""
    width = max([len('target')] + [len(row[0]) for row in rows])
    print(f'{"target":<{width}}  {"value":>7}  {"bound":<9} result')
    for name, value, relation, bound, passed in rows:
        shown = 'none' if value is None else f'{value:.3f}' if isinstance(
            value, float) else str(value)
        print(f'{name:<{width}}  {shown:>7}  {relation} {bound:<6} '
              f'{"PASS" if passed else "MISS"}')
    missed = sum(not row[-1] for row in rows)
    print(f'targets: {len(rows) - missed} PASS, {missed} MISS' + (
        ' (a MISS is a result of the research, not an error of the job; '
        f'--strict makes it exit status {MISSED_TARGET_STATUS})'
        if missed else ''))


def exit_status(rows: list, strict: bool = False,
                smoke: bool = False) -> int:
    """0 for a job that ran to the end; :data:`MISSED_TARGET_STATUS` with
    ``strict`` when a target is missed (``smoke`` judges none)."""
    if strict and not smoke and not all(row[-1] for row in rows):
        return MISSED_TARGET_STATUS
    return 0


def probe(model, cfg: Config, **sizes) -> dict:
    """The knowledge probe (``mmmrmllm.analysis.knowledge_probe``) at the
    config's view sizes (``sizes``: its image counts)."""
    from mmmrmllm.analysis import knowledge_probe
    start = time.perf_counter()
    scales = {t['type'].__name__ if isinstance(t['type'], type) else
              t['type']: t['scale'] for t in cfg.test_pipeline
              if 'scale' in t}
    out = knowledge_probe(model, enc_scale=scales['EncoderView'],
                          det_scale=scales['Resize'], **sizes)
    out['minutes'] = round((time.perf_counter() - start) / 60, 2)
    return out


def joint_config(config: str, data_root: str, work_dir: str, det_ckpt,
                 mllm_dir: str, max_iters, seed: int,
                 smoke: bool = False) -> Config:
    """A joint-stage config (MR-MLLM or a baseline) on the stage outputs,
    evaluated once after training."""
    cfg = Config.fromfile(config)
    set_data_root(cfg, data_root)
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    from mmmrmllm.models.mrmllm_args import set_model_arg
    if det_ckpt is not None and cfg.model.get('variant') != 'mllm_only':
        set_model_arg(cfg.model, 'init.detector_checkpoint', det_ckpt)
    if cfg.model.get('variant') != 'detector_only':
        set_model_arg(cfg.model, 'mllm.pretrained', mllm_dir)
    cfg.val_dataloader.dataset = cfg.val_dataset
    cfg.test_dataloader.dataset = cfg.val_dataset
    cfg.val_evaluator = cfg.test_evaluator = cfg.val_evaluator
    if smoke:
        shrink(cfg)
    if max_iters:
        cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = cfg.train_cfg.max_iters + 1
    cfg.default_hooks.checkpoint.interval = cfg.train_cfg.max_iters
    return cfg


def export_for_inference(cfg: Config, work_dir: str) -> dict:
    """What the README's commands after ``make demo`` need, inside
    ``work_dir``: the joint checkpoint, ``config.py`` (the resolved joint
    config: data paths, no init-only weights) and ``pretrained_mllm/``
    (the MLLM directory's config and tokenizers; its weights only if the
    checkpoint lacks some, i.e. frozen parts). Checked by building the
    model from them as the inference tools do.

    Returns:
        dict: ``config`` and ``checkpoint`` paths.
    """
    from mmmrmllm.models.mrmllm_args import model_arg, set_model_arg
    from mmmrmllm.registry import MODELS
    from mmmrmllm.utils.checkpoint import load_matching_checkpoint
    from mmmrmllm.utils.config import for_inference
    ckpt = osp.join(work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    path = osp.join(work_dir, 'config.py')
    out = copy.deepcopy(cfg)
    out.work_dir, out.load_from, out.resume = work_dir, None, False
    src = dict(mllm=model_arg(cfg.model, 'mllm.pretrained'),
               det=model_arg(cfg.model, 'init.detector_checkpoint'))
    for weights in (False, True):
        if src['mllm']:
            dst = osp.join(work_dir, 'pretrained_mllm')
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(src['mllm'], dst, ignore=None if weights else
                            shutil.ignore_patterns(*WEIGHT_FILES))
            set_model_arg(out.model, 'mllm.pretrained', dst)
        set_model_arg(out.model, 'init.detector_checkpoint', None)
        if weights and src['det']:
            det = osp.join(work_dir, 'detector.pth')
            set_model_arg(out.model, 'init.detector_checkpoint', det)
            shutil.copyfile(src['det'], det)
        out.dump(path)
        try:
            model = MODELS.build(for_inference(Config.fromfile(path)).model)
            load_matching_checkpoint(model, ckpt)
            break
        except FileNotFoundError as err:  # frozen parts need their weights
            print(f'[demo] {err}: copying the weights too')
    return dict(config=path, checkpoint=ckpt)


def train_and_evaluate(cfg: Config, stats: dict, show_images: int,
                       mechanisms: bool = False, probe_sizes=None,
                       splits=SPLITS):
    """Train (unless ``max_iters`` is 0), then evaluate on ``splits``.

    Returns:
        tuple: per-split summaries, mechanism stats, minutes (train, eval).
    """
    start = time.perf_counter()
    checkpoint = None
    if cfg.train_cfg.max_iters > 0:
        fresh_visualizer(cfg)
        Runner.from_cfg(cfg).train()
        checkpoint = osp.join(cfg.work_dir,
                              f'iter_{cfg.train_cfg.max_iters}.pth')
    train_min = (time.perf_counter() - start) / 60
    start = time.perf_counter()
    results, mech = {}, {}
    for split in splits:
        metrics, runner = evaluate(cfg, split, checkpoint, cfg.work_dir,
                                   show_images)
        results[split] = split_summary(metrics, stats, split)
        if split == 'val' and mechanisms:
            mech = mechanism_stats(runner)
            mech['probe'] = probe(runner.model, cfg, **(probe_sizes or {}))
    eval_min = (time.perf_counter() - start) / 60
    return results, mech, round(train_min, 2), round(eval_min, 2)


def main(argv=None):
    args = parse_args(argv)
    wall = time.perf_counter()
    register_all_modules(init_default_scope=False)
    smoke = args.smoke
    start = time.perf_counter()
    stats = ensure_data(args.data_root, SMOKE_SIZES if smoke else None)
    data_min = round((time.perf_counter() - start) / 60, 2)
    data_root = args.data_root
    seed = args.seed
    probe_sizes = SMOKE_PROBE if smoke else {}

    det_iters = SMOKE_ITERS if smoke else Config.fromfile(
        args.det_config).train_cfg.max_iters
    det = given('checkpoint', args.det_checkpoint) or run_stage(
        'detector', args.det_config, data_root,
        dict(checkpoint=f'iter_{det_iters}.pth'), args.cache_dir, seed,
        smoke=smoke)
    lm = given('hf_model', args.llm_dir) or run_stage(
        'language', args.lm_config, data_root, dict(hf_model='hf_model'),
        args.cache_dir, seed, smoke=smoke)

    def on_language_stage(cfg):
        cfg.model.llm.name_or_path = lm['outputs']['hf_model']

    mllm = given('hf_instructblip', args.mllm_dir) or run_stage(
        'mllm', args.mllm_config, data_root,
        dict(hf_instructblip='hf_instructblip'), args.cache_dir, seed,
        on_language_stage, smoke=smoke)
    mllm_dir = mllm['outputs']['hf_instructblip']

    # the pre-trained MLLM alone, zero-shot (loaded as a user would load
    # InstructBLIP: the MLLM-only config with pretrained_mllm)
    zs_cfg = joint_config(args.mllm_baseline_config, data_root,
                          osp.join(args.work_dir, 'mllm_zero_shot'), None,
                          mllm_dir, None, seed, smoke)
    zs_cfg.train_cfg.max_iters = 0
    zero_shot, _, _, zs_eval = train_and_evaluate(zs_cfg, stats, 0)

    cfg = joint_config(args.config, data_root, args.work_dir,
                       det['outputs']['checkpoint'], mllm_dir,
                       args.max_iters, seed, smoke)
    # the premise of the feedback path, before joint training: does the
    # pre-trained MLLM know corner looks the pre-trained detector does not?
    from mmmrmllm.registry import MODELS
    with torch.no_grad():
        before = probe(MODELS.build(cfg.model), cfg, **probe_sizes)
    print_probe('before joint training', before, seed)
    splits, mech, joint_min, eval_min = train_and_evaluate(
        cfg, stats, args.show_images, mechanisms=True,
        probe_sizes=probe_sizes)
    files = export_for_inference(cfg, args.work_dir)

    baseline, base_min = None, None
    if not args.skip_baseline:
        # InstructBLIP fine-tuned: the same MLLM, the same data and
        # iterations, no detector
        base_cfg = joint_config(args.mllm_baseline_config, data_root,
                                osp.join(args.work_dir, 'mllm_only'), None,
                                mllm_dir, cfg.train_cfg.max_iters, seed,
                                smoke)
        baseline, _, base_min, _ = train_and_evaluate(
            base_cfg, stats, 0, splits=('val', 'corner'))

    summary = dict(
        splits=splits,
        mllm_zero_shot=zero_shot,
        mllm_only=baseline,
        gates=mech.get('gates', {}),
        soft_token_spread=mech.get('soft_token_spread'),
        knowledge_probe=dict(before_joint=before,
                             after_joint=mech.get('probe'),
                             # the stages' seed: 1c's (and 1a's) features
                             seed=seed),
        seed=seed,
        minutes=dict(
            data_generation=data_min,
            detector_pretrain=det['minutes'],
            language_pretrain=lm['minutes'],
            mllm_pretrain=mllm['minutes'],
            knowledge_probe_before_joint=before['minutes'],
            joint=joint_min,
            evaluation=eval_min,
            mllm_zero_shot_evaluation=zs_eval,
            mllm_only_baseline=base_min,
            total_this_run=round((time.perf_counter() - wall) / 60, 2)),
        cached=dict(
            detector_pretrain=det['cached'], language_pretrain=lm['cached'],
            mllm_pretrain=mllm['cached']),
        stages=dict(
            detector_pretrain=stage_summary(
                det, osp.dirname(det['outputs']['checkpoint'])),
            language_pretrain=stage_summary(lm, lm['outputs']['hf_model']),
            mllm_pretrain=stage_summary(mllm, mllm_dir)),
        joint_iters=cfg.train_cfg.max_iters,
        files=files,
        smoke=smoke,
        targets={f'{section}.{split}.{key}': target
                 for section, key, split, target in TARGETS},
        phrasing_targets=[
            dict(what=what, value=value, bound=bound, passed=passed)
            for what, value, bound, passed in phrasing_checks(splits)])
    with open(osp.join(args.work_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    rows = print_summary(summary)
    print(f'for the commands that follow: {files["config"]} '
          f'{files["checkpoint"]}')
    print(f'summary: {args.work_dir}/summary.json; predictions drawn under '
          f'{args.work_dir}/test_*/*/predictions; TensorBoard: tensorboard '
          f'--logdir {args.work_dir}')
    if smoke:
        print('[demo] --smoke: the targets are not judged at these sizes')
    return exit_status(rows, args.strict, smoke)


if __name__ == '__main__':
    sys.exit(main())
