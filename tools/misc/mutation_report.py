"""Mutation score per module from mutmut's results (``make mutation``).

Reads the ``mutants/**/*.py.meta`` files that ``mutmut run`` leaves and
prints, per module group of ``[tool.mutmut]`` (docs/testing.md), the
mutants killed (a test failed; a timeout counts as killed too), survived,
and without a covering test. ``--survivors`` lists the mutants that no test
killed (``mutmut show NAME`` prints one's diff). ``--min-score 0.8`` exits
1 when a module scores less.
"""
import argparse
import glob
import json
import os.path as osp
import sys
from collections import Counter

MODULES = {
    'evaluation': 'mmmrmllm.evaluation.',
    'text': 'mmmrmllm.text.',
    'structures': 'mmmrmllm.structures.',
    'sequence_assembly': 'mmmrmllm.models.sequence_assembly.',
    'datasets.formats': 'mmmrmllm.datasets.formats.',
    'datasets.json_dataset': 'mmmrmllm.datasets.json_dataset.',
    'partwise_clip': 'mmmrmllm.engine.optimizers.partwise_clip',
}
# mutmut's exit codes (mutmut/stats.py): a failing test or a timeout
KILLED = {1, 3, 36, -24, 24, 152, 255}
NO_TESTS = {5, 33}


def load(root):
    """Mutant name -> exit code (None: not run yet)."""
    codes = {}
    for path in glob.glob(osp.join(root, '**', '*.py.meta'), recursive=True):
        with open(path) as f:
            codes.update(json.load(f)['exit_code_by_key'])
    return codes


def status(code):
    if code is None:
        return 'not_run'
    if code in KILLED:
        return 'killed'
    if code in NO_TESTS:
        return 'no_tests'
    return 'survived' if code == 0 else 'other'


def module_of(name):
    return next((m for m, prefix in MODULES.items()
                 if name.startswith(prefix)), None)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--root', default='mutants')
    parser.add_argument('--survivors', action='store_true')
    parser.add_argument('--min-score', type=float, default=None)
    args = parser.parse_args()
    codes = load(args.root)
    if not codes:
        sys.exit(f'no mutmut results under {args.root}/: run mutmut first')
    counts = {m: Counter() for m in MODULES}
    for name, code in codes.items():
        module = module_of(name)
        if module is not None:
            counts[module][status(code)] += 1
    print(f'{"module":<22} {"mutants":>7} {"killed":>6} {"survived":>8} '
          f'{"no test":>7} {"score":>6}')
    low = []
    for module, c in counts.items():
        total = sum(c.values())
        score = c['killed'] / total if total else float('nan')
        print(f'{module:<22} {total:>7} {c["killed"]:>6} '
              f'{c["survived"] + c["other"]:>8} {c["no_tests"]:>7} '
              f'{score:>6.1%}' + (f'  ({c["not_run"]} not run)'
                                  if c['not_run'] else ''))
        if args.min_score is not None and not score >= args.min_score:
            low.append(module)
    if args.survivors:
        print('\nnot killed:')
        for name in sorted(codes):
            if module_of(name) and status(codes[name]) != 'killed':
                print(f'  {name}  ({status(codes[name])})')
    if low:
        sys.exit(f'below {args.min_score:.0%}: {", ".join(low)}')


if __name__ == '__main__':
    main()
