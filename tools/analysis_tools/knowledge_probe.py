"""Does the MLLM know corner looks the detector does not? Linear probes of
object class from the detector's and the MLLM's box-pooled features.

Usage:
    python tools/analysis_tools/knowledge_probe.py CONFIG CKPT \
        [--num-train 600] [--num-eval 150] [--seed 0] [--img-size 128] \
        [--device cpu] [--out result.json] [--cfg-options key=value ...]

Fits each probe on the objects of the first ``--num-train`` ``vqa_train``
images and prints its accuracy on the objects of the first ``--num-eval``
``corner`` images (all, and the corner-look ones) and ``val`` images, with
the majority class rate as chance.
"""
import argparse
import json
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

from mmengine.config import DictAction  # noqa: E402

from mmmrmllm.analysis import knowledge_probe  # noqa: E402
from mmmrmllm.apis import MRMLLMInferencer  # noqa: E402

COLUMNS = ('corner', 'corner_looks', 'val', 'train')


def table(result: dict) -> str:
    """The accuracies as a plain-text table."""
    lines = [f'{"features":<10}' + ''.join(f'{c:>14}' for c in COLUMNS)]
    for row in ('detector', 'mllm', 'chance'):
        accs = result[row]
        cells = ['-' if accs is None or c not in accs else f'{accs[c]:.4f}'
                 for c in COLUMNS]
        lines.append(f'{row:<10}' + ''.join(f'{c:>14}' for c in cells))
    lines.append(
        f'objects: train {result["num_train_objects"]}, corner '
        f'{result["num_corner_objects"]} ('
        f'{result["num_corner_look_objects"]} corner looks), val '
        f'{result["num_val_objects"]}')
    return '\n'.join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--num-train', type=int, default=600,
                        help='vqa_train images to fit the probes on')
    parser.add_argument('--num-eval', type=int, default=150,
                        help='corner and val images to score on')
    parser.add_argument('--seed', type=int, default=0,
                        help="the benchmark's generation seed")
    parser.add_argument('--img-size', type=int, default=128,
                        help='image side the benchmark was generated at')
    parser.add_argument('--device', default=None,
                        help='torch device (default: cuda if available)')
    parser.add_argument('--out', default=None, help='write the result JSON')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='config overrides, key=value')
    args = parser.parse_args()
    import torch
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    inferencer = MRMLLMInferencer(args.config, args.checkpoint, device,
                                  cfg_options=args.cfg_options)
    cfg = inferencer.cfg
    result = knowledge_probe(
        inferencer.model, seed=args.seed, num_train=args.num_train,
        num_eval=args.num_eval, img_size=args.img_size,
        enc_scale=tuple(cfg.get('enc_scale', (64, 64))),
        det_scale=tuple(cfg.get('det_scale', (128, 128))))
    print(table(result))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)


if __name__ == '__main__':
    main()
