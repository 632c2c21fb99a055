"""Build POPE's yes/no object probes from a COCO-format annotation file.

Writes the documented question format (docs/data_format.md, docs/pope.md):
per image, "Is there a {class} in the image?" about present classes
(answer "yes") and as many absent ones ("no") for each negative sampling
(random, popular, adversarial), typed ``pope_<sampling>`` for
``POPEMetric``.

Examples:
    # COCO val2014 as POPE (500 images with >= 3 classes, 3 + 3 per image)
    python tools/dataset_converters/build_pope.py \\
        data/coco/annotations/instances_val2014.json \\
        --out data/coco/pope/val2014_pope.json --num-images 500
    # a CornerShapes split (three classes: one + one per image)
    python tools/dataset_converters/build_pope.py \\
        data/cornershapes/annotations/val.json \\
        --out data/cornershapes/pope/val.json --min-classes 1
"""
import argparse

from mmmrmllm.datasets.pope import SAMPLINGS, TEMPLATE, write_pope_questions
from mmmrmllm.utils.errors import exit_on_user_error


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('ann_file', help='COCO-format annotation file')
    parser.add_argument('--out', required=True, help='question file written')
    parser.add_argument('--num-per-image', type=int, default=3,
                        help="present classes asked per image (POPE's "
                        'sample_num; fewer when the image has fewer)')
    parser.add_argument('--min-classes', type=int, default=None,
                        help='fewest distinct classes of a probed image '
                        '(default: --num-per-image, as POPE)')
    parser.add_argument('--num-images', type=int, default=None,
                        help='images drawn at random (POPE: 500; default: '
                        'all)')
    parser.add_argument('--samplings', nargs='+', choices=SAMPLINGS,
                        default=list(SAMPLINGS))
    parser.add_argument('--template', default=TEMPLATE)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    counts = exit_on_user_error(lambda: write_pope_questions(
        args.ann_file, args.out, num_per_image=args.num_per_image,
        min_classes=args.min_classes, num_images=args.num_images,
        samplings=args.samplings, template=args.template, seed=args.seed))
    per = ', '.join(f'{s} {n}' for s, n in counts['per_sampling'].items())
    print(f'wrote {args.out}: {counts["images"]} images, '
          f'{counts["questions"]} questions ({per}); skipped '
          f'{counts["skipped_every_class"]} images that have every class')


if __name__ == '__main__':
    main()
