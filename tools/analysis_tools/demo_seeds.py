"""The main job over seeds: ``make demo``'s summaries (one per seed) as
Markdown tables, each seed and the mean ± half the range, ready for
docs/main_job.md.

Usage:
    python tools/analysis_tools/demo_seeds.py \
        work_dirs/demo_seed0/summary.json work_dirs/demo_seed1/summary.json \
        [--out seeds.md]

Tables: the knowledge probe before (and after) joint training, stage 1c
alone zero-shot, the MLLM-only baseline and the joint model, and each
stage's minutes (reused or resumed stages marked). Then the issue's
targets on the pre-trained MLLM, judged on every seed.
"""
import argparse
import json
import statistics
import sys

PROBE_SETS = ('corner_looks', 'corner', 'val')
# (label, summary section, split, key)
VQA_COLUMNS = (('val VQA', 'val', 'vqa_acc'),
               ('val colour', 'val', 'vqa_acc_by_type.colour'),
               ('corner VQA', 'corner', 'vqa_acc'),
               ('corner colour', 'corner', 'vqa_acc_by_type.colour'))
MODELS = (('stage 1c alone, zero-shot', 'mllm_zero_shot'),
          ('MLLM only (1c fine-tuned)', 'mllm_only'),
          ('MR-MLLM (joint)', 'splits'))
# issue "The MLLM knows the corner looks the detector never learnt": (what,
# value of a summary, target), every seed
PROBE_MARGIN = 0.15
PROBE_KEPT = 0.03


def get(node, path: str):
    for part in path.split('.'):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def cell(values) -> str:
    """``mean ± half the range`` of the values that exist."""
    vals = [v for v in values if v is not None]
    if not vals:
        return '–'
    if len(vals) == 1:
        return f'{vals[0]:.3f}'
    half = (max(vals) - min(vals)) / 2
    return f'{statistics.mean(vals):.3f} ± {half:.3f}'


def table(header, rows) -> list:
    return ['| ' + ' | '.join(header) + ' |',
            '|' + '---|' * len(header)] + [
                '| ' + ' | '.join(r) + ' |' for r in rows]


def probe_tables(runs) -> list:
    out = []
    for when in ('before_joint', 'after_joint'):
        if not any(get(s, f'knowledge_probe.{when}') for s in runs):
            continue
        header = ['seed', 'features'] + list(PROBE_SETS)
        rows = []
        for src in ('detector', 'mllm', 'chance'):
            paths = [f'knowledge_probe.{when}.{src}.{k}' for k in PROBE_SETS]
            for s in runs:
                rows.append([str(s['seed']), src] + [
                    '–' if get(s, p) is None else f'{get(s, p):.3f}'
                    for p in paths])
            rows.append(['mean', src] + [cell(get(s, p) for s in runs)
                                         for p in paths])
        out += [f'Knowledge probe {when.replace("_", " ")} (linear probe '
                "of an object's shape, accuracy)", ''] + \
            table(header, rows) + ['']
    return out


def vqa_table(runs) -> list:
    header = ['model', 'seed'] + [c[0] for c in VQA_COLUMNS]
    rows = []
    for label, section in MODELS:
        if not any(s.get(section) for s in runs):
            continue
        paths = [f'{section}.{split}.{key}' for _, split, key in VQA_COLUMNS]
        for s in runs:
            rows.append([label, str(s['seed'])] + [
                '–' if get(s, p) is None else f'{get(s, p):.3f}'
                for p in paths])
        rows.append([label, 'mean'] + [cell(get(s, p) for s in runs)
                                       for p in paths])
    return table(header, rows) + ['']


def minutes_table(runs) -> list:
    names = []
    for s in runs:
        names += [k for k in s.get('minutes', {}) if k not in names]
    rows = []
    for s in runs:
        row = [str(s['seed'])]
        for name in names:
            value = s['minutes'].get(name)
            stage = (s.get('stages') or {}).get(name) or {}
            note = ''
            if (s.get('cached') or {}).get(name):
                note = ' (reused)'
            elif stage.get('resumed_from_iter') is not None:
                note = f' (resumed at {stage["resumed_from_iter"]})'
            row.append('–' if value is None else f'{value:.1f}{note}')
        rows.append(row)
    return ['Minutes per stage (a reused stage: the minutes of the run '
            'that trained it)', ''] + table(['seed'] + names, rows) + ['']


def targets(summary: dict) -> list:
    """(what, value, target, met) of the issue's targets on one seed."""
    before = 'knowledge_probe.before_joint'
    det = get(summary, f'{before}.detector.corner_looks')
    mllm = get(summary, f'{before}.mllm.corner_looks')
    after = get(summary, 'knowledge_probe.after_joint.mllm.corner_looks')
    checks = [
        ('probe, corner looks: MLLM - detector',
         None if None in (det, mllm) else mllm - det, PROBE_MARGIN),
        ('probe, val objects: MLLM', get(summary, f'{before}.mllm.val'),
         0.85)]
    for key, split, target in (('vqa_acc_by_type.colour', 'val', 0.85),
                               ('vqa_acc_by_type.colour', 'corner', 0.70),
                               ('vqa_acc', 'corner', 0.60),
                               ('vqa_acc', 'val', 0.60)):
        checks.append((f'stage 1c zero-shot {split} {key}',
                       get(summary, f'mllm_zero_shot.{split}.{key}'),
                       target))
    checks.append(('MLLM only val vqa_acc',
                   get(summary, 'mllm_only.val.vqa_acc'), 0.60))
    rows = [(w, v, f'>= {t}', v is not None and v >= t)
            for w, v, t in checks]
    kept = None if None in (after, mllm) else abs(after - mllm)
    rows.append(('probe, corner looks: |MLLM after - before joint|', kept,
                 f'<= {PROBE_KEPT}', kept is not None and kept <= PROBE_KEPT))
    return rows


def report(runs) -> str:
    lines = [f'Seeds {", ".join(str(s["seed"]) for s in runs)}; mean ± '
             'half the range.', '']
    lines += probe_tables(runs) + vqa_table(runs) + minutes_table(runs)
    verdicts = [targets(s) for s in runs]
    header = ['target'] + [f'seed {s["seed"]}' for s in runs] + ['met']
    rows = []
    for i, (what, _, bound, _) in enumerate(verdicts[0]):
        vals = [v[i][1] for v in verdicts]
        met = all(v[i][3] for v in verdicts)
        rows.append([f'{what} {bound}'] + [
            '–' if x is None else f'{x:.3f}' for x in vals] +
                    ['yes' if met else 'no'])
    lines += ['Targets on the pre-trained MLLM (every seed)', ''] + \
        table(header, rows)
    return '\n'.join(lines) + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('summaries', nargs='+',
                        help="make demo's summary.json, one per seed")
    parser.add_argument('--out', default=None, help='also write it here')
    args = parser.parse_args(argv)
    runs = []
    for path in args.summaries:
        with open(path) as f:
            summary = json.load(f)
        if 'seed' not in summary:
            raise ValueError(f'{path}: not a make demo summary (no "seed")')
        runs.append(summary)
    runs.sort(key=lambda s: s['seed'])
    text = report(runs)
    print(text, end='')
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
