"""Does the model see colour? Re-colour one object of CornerShapes images
(nothing else changes) and ask its colour question each time.

Usage:
    python tools/analysis_tools/colour_counterfactual.py CONFIG CKPT \
        [--split val] [--num 8] [--seed 0] [--out result.json]

Prints, per image, the answer for each painted colour, then how many
images' answers changed with the colour and how many answers named the
painted colour.
"""
import argparse
import json
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

from mmmrmllm.analysis import recolour_counterfactual  # noqa: E402
from mmmrmllm.apis import MRMLLMInferencer  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--split', default='val')
    parser.add_argument('--num', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0,
                        help="the benchmark's generation seed")
    parser.add_argument('--out', default=None)
    args = parser.parse_args()
    inferencer = MRMLLMInferencer(args.config, args.checkpoint)
    result = recolour_counterfactual(
        inferencer, range(1000), args.split, args.seed, limit=args.num)
    for row in result['images']:
        print(f'{args.split} {row["index"]:06d} {row["question"]!r}: ' +
              ', '.join(f'{c}->{a}' for c, a in row['answers'].items()))
    n = len(result['images'])
    print(f'answer changed with the colour on {result["changed"]} of {n} '
          f'images; named the painted colour in {result["correct"]} of '
          f'{result["total"]} answers')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)


if __name__ == '__main__':
    main()
