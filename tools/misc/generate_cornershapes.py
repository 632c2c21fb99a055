"""Generate the CornerShapes benchmark and print its statistics.

Example:
    python tools/misc/generate_cornershapes.py --out-dir data/cornershapes
    python tools/misc/generate_cornershapes.py --out-dir data/cornershapes \
        --det-train 100 --vqa-train 100 --val 20 --corner 20 --novel 20
"""
import argparse
import json

from mmmrmllm.datasets.cornershapes import (
    CLASSES,
    DEFAULT_SIZES,
    SPLITS,
    generate_cornershapes,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out-dir', default='data/cornershapes')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--img-size', type=int, default=128)
    parser.add_argument(
        '--classes',
        nargs='+',
        default=list(CLASSES),
        help='shape classes (circle square triangle star cross)')
    for split in SPLITS:
        parser.add_argument(
            '--' + split.replace('_', '-'),
            type=int,
            default=DEFAULT_SIZES[split],
            help=f'images in {split} (0 skips it)')
    parser.add_argument(
        '--json', action='store_true', help='print the full stats JSON')
    return parser.parse_args()


def print_stats(stats: dict) -> None:
    print(f'CornerShapes (seed {stats["seed"]}, {stats["img_size"]} px, '
          f'classes {", ".join(stats["classes"])}) generated in '
          f'{stats["generation_time_s"]:.1f} s')
    print(f'{"split":<12} {"images":>6} {"objects":>7} {"corner":>6} '
          f'{"questions":>9} {"majority":>8} {"train-prior":>11}')
    for split, info in stats['splits'].items():
        by_look = info.get('objects_by_appearance', {})
        num_corner = info['objects'] - by_look.get('common', 0)

        def fmt(value):
            return f'{value:.3f}' if value is not None else '-'

        print(f'{split:<12} {info["images"]:>6} {info["objects"]:>7} '
              f'{num_corner:>6} {info.get("questions", 0):>9} '
              f'{fmt(info.get("majority_acc")):>8} '
              f'{fmt(info.get("train_prior_acc")):>11}')
    print('\nper question type (majority answer: accuracy of always '
          'answering it)')
    for split, info in stats['splits'].items():
        for qtype, entry in info.get('question_types', {}).items():
            answers = ', '.join(f'{a}:{n}'
                                for a, n in entry['answers'].items())
            print(f'  {split:<12} {qtype:<18} n={entry["count"]:<5} '
                  f'majority {entry["majority_answer"]!r} '
                  f'{entry["majority_acc"]:.3f}  [{answers}]')


def main() -> None:
    args = parse_args()
    sizes = {split: getattr(args, split) for split in SPLITS}
    stats = generate_cornershapes(
        args.out_dir,
        sizes=sizes,
        seed=args.seed,
        img_size=args.img_size,
        classes=args.classes)
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        print_stats(stats)
    print(f'\nwrote {args.out_dir} (stats in {args.out_dir}/stats.json)')


if __name__ == '__main__':
    main()
