"""The claim study's results file and report: the table (mean ± std over
seeds), the verdicts on the paper's claims and the bar plot, written to
``docs/results.md`` by ``ablation_study.py``."""
import json
import math
import os
import os.path as osp
import statistics

from ablation_grid import CONFIG, PLAN, SPLITS, VARIANTS


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


def value(run, split, key):
    """``run[split]`` at a dotted ``key`` (``'pope.adversarial'``); None
    where the run has no such number (a baseline, an older run)."""
    node = run.get(split)
    for part in key.split('.'):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def rows_by_variant(results, iters=None):
    out = {}
    for r in results['runs']:
        if iters is None or r.get('iters') == iters:
            out.setdefault(r['variant'], []).append(r)
    return out


def table(results):
    rows = rows_by_variant(results)
    head = ('| variant | seeds | val mAP | corner mAP | novel mAP | val VQA '
            '| corner VQA | novel VQA | val colour | min/run '
            '| val POPE F1 (adv.) | corner POPE F1 (adv.) |')
    lines = [head, '|' + '---|' * 12]
    for name in VARIANTS:
        runs = rows.get(name)
        if not runs:
            continue

        def get(split, key, runs=runs):
            return [value(r, split, key) for r in runs]

        lines.append(
            f'| `{name}` | {len(runs)} | {fmt(get("val", "bbox_mAP"))} | '
            f'{fmt(get("corner", "bbox_mAP"))} | '
            f'{fmt(get("novel", "bbox_mAP"))} | '
            f'{fmt(get("val", "vqa_acc"))} | '
            f'{fmt(get("corner", "vqa_acc"))} | '
            f'{fmt(get("novel", "vqa_acc"))} | '
            f'{fmt([r["val"]["vqa_acc_by_type"].get("colour") for r in runs])}'
            f' | {statistics.mean(r["minutes"] for r in runs):.1f} | '
            f'{fmt(get("val", "pope.adversarial"))} | '
            f'{fmt(get("corner", "pope.adversarial"))} |')
    return '\n'.join(lines)


def comparisons(results):
    rows = rows_by_variant(results)
    out = []

    def diff(a, b, split, key, target, label):
        if a not in rows or b not in rows:
            out.append(f'- {label}: not measured yet')
            return
        ma, sa = mean_std([value(r, split, key) for r in rows[a]])
        mb, sb = mean_std([value(r, split, key) for r in rows[b]])
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
    for split in ('val', 'corner'):  # fewer hallucinated objects: higher
        diff('mrmllm', 'mllm_only', split, 'pope.adversarial', 0.0,
             f'{split} POPE F1 (adversarial), MR-MLLM vs MLLM only')
    return '\n'.join(out)


def plot(results, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = rows_by_variant(results)
    names = [n for n in VARIANTS if n in rows]
    fig, axes = plt.subplots(1, 3, figsize=(18, 4))
    for ax, key, title in ((axes[0], 'bbox_mAP', 'bbox mAP'),
                           (axes[1], 'vqa_acc', 'VQA accuracy'),
                           (axes[2], 'pope.adversarial',
                            'POPE F1 (adversarial)')):
        width = 0.8 / len(SPLITS)
        for k, split in enumerate(SPLITS):
            means, stds = [], []
            for n in names:
                m, s = mean_std([value(r, split, key) for r in rows[n]])
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
looks the detector never saw boxes of) and `novel` (unseen looks), and on
POPE's probes of each split (docs/pope.md; F1 with "yes" positive).
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
