"""Normalise a CODA annotation file into the COCO style mmmrmllm reads,
with a per-object ``corner`` flag.

CODA ships COCO-like JSON. This converter fills what pycocotools and
MRMLLMCocoDataset need (``area``, ``iscrowd``, unique annotation ids),
marks each object as a corner case from a class list or from an existing
per-object attribute, and reports (never silently drops) annotations with
unknown category ids or empty boxes.

Example:
    python tools/dataset_converters/coda_to_coco.py \
        --in CODA/val/annotations.json --out data/coda/val_coco.json \
        --corner-classes dog barrier debris
"""
import argparse
import math
from typing import Optional, Sequence

from mmmrmllm.datasets.converting import RecordSkipper, write_json
from mmmrmllm.datasets.formats import FormatError, load_json
from mmmrmllm.utils.errors import exit_on_user_error


def convert_coda(in_file: str,
                 out_file: str,
                 corner_classes: Optional[Sequence[str]] = None,
                 corner_attr: Optional[str] = None,
                 drop_invalid: bool = False) -> dict:
    """Convert a CODA file to COCO style with ``corner`` flags.

    Args:
        in_file (str): CODA annotation JSON (COCO-like).
        out_file (str): Output JSON file.
        corner_classes (Sequence[str], optional): Category names whose
            objects are corner cases.
        corner_attr (str, optional): Existing per-object attribute that
            marks a corner case (read as bool); wins over
            ``corner_classes``.
        drop_invalid (bool): Drop (and count) annotations with an unknown
            category or an empty or malformed box instead of stopping with
            an error naming the annotation. Defaults to False.

    Returns:
        dict: Counts of ``images``, ``annotations``, ``corner`` objects and
        ``dropped`` annotations.

    Raises:
        FormatError: On an invalid annotation unless ``drop_invalid``.
    """
    coco = load_json(in_file)
    if not isinstance(coco, dict) or not coco.get('images'):
        raise FormatError(f'{in_file}: no images')
    skipper = RecordSkipper(in_file, drop_invalid)
    names = {}
    for k, c in enumerate(coco.get('categories', [])):
        with skipper.record(f'category {k}'):
            names[c['id']] = c['name']
    unknown = set(corner_classes or ()) - set(names.values())
    if unknown:
        raise FormatError(f'{in_file}: corner classes {sorted(unknown)} are '
                          'not categories of the file')
    corner_classes = set(corner_classes or ())
    anns, num_corner = [], 0
    for k, ann in enumerate(coco.get('annotations', [])):
        name = (f'annotation {ann.get("id", k)} of image '
                f'{ann.get("image_id")}' if isinstance(ann, dict) else
                f'annotation {k}')
        with skipper.record(name):
            bbox = ann['bbox']
            if not isinstance(bbox, list) or len(bbox) != 4 or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool)
                    and math.isfinite(v) for v in bbox):
                raise ValueError(f'malformed box {bbox!r}')
            x, y, w, h = bbox
            if ann.get('category_id') not in names:
                raise ValueError(
                    f'unknown category id {ann.get("category_id")!r}')
            if w <= 0 or h <= 0:
                raise ValueError(f'empty box {bbox}')
            ann = dict(ann)
            ann['id'] = len(anns) + 1
            ann.setdefault('area', w * h)
            ann.setdefault('iscrowd', 0)
            if corner_attr is not None and corner_attr in ann:
                ann['corner'] = bool(ann[corner_attr])
            else:
                ann['corner'] = names[ann['category_id']] in corner_classes
            num_corner += ann['corner']
            anns.append(ann)
    dropped = skipper.skipped
    coco['annotations'] = anns
    write_json(out_file, coco)
    return dict(
        images=len(coco['images']),
        annotations=len(anns),
        corner=num_corner,
        dropped=dropped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--in', dest='in_file', required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--corner-classes', nargs='*', default=None)
    parser.add_argument('--corner-attr', default=None)
    parser.add_argument('--drop-invalid', '--skip-invalid',
                        action='store_true',
                        help='skip and count bad annotations')
    args = parser.parse_args()
    counts = exit_on_user_error(lambda: convert_coda(
        args.in_file, args.out, args.corner_classes, args.corner_attr,
        args.drop_invalid))
    print(f'wrote {args.out}: {counts["images"]} images, '
          f'{counts["annotations"]} annotations ({counts["corner"]} corner '
          f'cases); dropped {counts["dropped"]} invalid annotations')


if __name__ == '__main__':
    main()
