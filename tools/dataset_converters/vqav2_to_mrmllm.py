"""Convert VQAv2 (COCO-VQA) question/annotation files to the documented
mmmrmllm JSON format (docs/data_format.md), one record per image.

Example:
    python tools/dataset_converters/vqav2_to_mrmllm.py \
        --questions v2_OpenEnded_mscoco_val2014_questions.json \
        --annotations v2_mscoco_val2014_annotations.json \
        --image-pattern 'val2014/COCO_val2014_{image_id:012d}.jpg' \
        --out data/vqav2/val_mrmllm.json
"""
import argparse
import json
from typing import Optional


def convert_vqav2(question_file: str,
                  out_file: str,
                  ann_file: Optional[str] = None,
                  image_pattern: str = 'COCO_{image_id:012d}.jpg',
                  type_key: str = 'answer_type') -> dict:
    """Convert VQAv2 to the documented format.

    Args:
        question_file (str): ``v2_OpenEnded_mscoco_*_questions.json``.
        out_file (str): Output JSON file.
        ann_file (str, optional): ``v2_mscoco_*_annotations.json``; without
            it questions have no answers (test split).
        image_pattern (str): Image path from ``image_id``.
        type_key (str): Annotation field used as question type.

    Returns:
        dict: ``images`` and ``questions`` counts.
    """
    with open(question_file) as f:
        questions = json.load(f)['questions']
    anns = {}
    if ann_file:
        with open(ann_file) as f:
            anns = {a['question_id']: a for a in json.load(f)['annotations']}
    records = {}
    for q in questions:
        ann = anns.get(q['question_id'])
        if ann_file and ann is None:
            raise ValueError(f'{ann_file}: question {q["question_id"]} has '
                             'no annotation')
        entry = dict(id=q['question_id'], question=q['question'])
        if ann is not None:
            entry['answers'] = [a['answer'] for a in ann['answers']]
            entry['type'] = ann.get(type_key, '')
        image_id = q['image_id']
        record = records.setdefault(
            image_id,
            dict(
                image=image_pattern.format(image_id=image_id),
                image_id=image_id,
                questions=[]))
        record['questions'].append(entry)
    with open(out_file, 'w') as f:
        json.dump(dict(metainfo={}, data_list=list(records.values())), f)
    return dict(images=len(records), questions=len(questions))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--questions', required=True)
    parser.add_argument('--annotations', default=None)
    parser.add_argument(
        '--image-pattern', default='COCO_{image_id:012d}.jpg')
    parser.add_argument('--type-key', default='answer_type')
    parser.add_argument('--out', required=True)
    args = parser.parse_args()
    counts = convert_vqav2(args.questions, args.out, args.annotations,
                           args.image_pattern, args.type_key)
    print(f'wrote {args.out}: {counts["images"]} images, '
          f'{counts["questions"]} questions')


if __name__ == '__main__':
    main()
