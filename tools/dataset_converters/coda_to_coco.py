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
import json
from typing import Optional, Sequence


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
        drop_invalid (bool): Drop annotations with an unknown category or
            an empty box instead of raising. Defaults to False.

    Returns:
        dict: Counts of ``images``, ``annotations``, ``corner`` objects and
        ``dropped`` annotations.

    Raises:
        ValueError: On an invalid annotation unless ``drop_invalid``.
    """
    with open(in_file) as f:
        coco = json.load(f)
    if not coco.get('images'):
        raise ValueError(f'{in_file}: no images')
    names = {c['id']: c['name'] for c in coco.get('categories', [])}
    unknown = set(corner_classes or ()) - set(names.values())
    if unknown:
        raise ValueError(f'{in_file}: corner classes {sorted(unknown)} are '
                         'not categories of the file')
    corner_classes = set(corner_classes or ())
    anns, dropped, num_corner = [], 0, 0
    for ann in coco.get('annotations', []):
        x, y, w, h = ann['bbox']
        problem = None
        if ann.get('category_id') not in names:
            problem = f'unknown category id {ann.get("category_id")}'
        elif w <= 0 or h <= 0:
            problem = f'empty box {ann["bbox"]}'
        if problem:
            if not drop_invalid:
                raise ValueError(
                    f'{in_file}: annotation {ann.get("id")} of image '
                    f'{ann.get("image_id")}: {problem}')
            dropped += 1
            continue
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
    coco['annotations'] = anns
    with open(out_file, 'w') as f:
        json.dump(coco, f)
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
    parser.add_argument('--drop-invalid', action='store_true')
    args = parser.parse_args()
    counts = convert_coda(args.in_file, args.out, args.corner_classes,
                          args.corner_attr, args.drop_invalid)
    print(f'wrote {args.out}: {counts["images"]} images, '
          f'{counts["annotations"]} annotations ({counts["corner"]} corner '
          f'cases); dropped {counts["dropped"]} invalid annotations')


if __name__ == '__main__':
    main()
