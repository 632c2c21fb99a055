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
from typing import Optional

from mmmrmllm.datasets.converting import RecordSkipper, write_records
from mmmrmllm.datasets.formats import FormatError, load_json
from mmmrmllm.utils.errors import exit_on_user_error


def convert_vqav2(question_file: str,
                  out_file: str,
                  ann_file: Optional[str] = None,
                  image_pattern: str = 'COCO_{image_id:012d}.jpg',
                  type_key: str = 'answer_type',
                  skip_invalid: bool = False) -> dict:
    """Convert VQAv2 to the documented format.

    Args:
        question_file (str): ``v2_OpenEnded_mscoco_*_questions.json``.
        out_file (str): Output JSON file.
        ann_file (str, optional): ``v2_mscoco_*_annotations.json``; without
            it questions have no answers (test split).
        image_pattern (str): Image path from ``image_id``.
        type_key (str): Annotation field used as question type.
        skip_invalid (bool): Skip and count bad questions instead of
            stopping at the first.

    Returns:
        dict: ``images``, ``questions`` and ``skipped`` counts.
    """
    skipper = RecordSkipper(question_file, skip_invalid)
    content = load_json(question_file, 'question file')
    if not isinstance(content, dict) or not isinstance(
            content.get('questions'), list):
        raise FormatError(f'{question_file}: expected {{"questions": '
                          '[...]}}, the VQAv2 question format')
    questions = content['questions']
    anns = {}
    if ann_file:
        content = load_json(ann_file)
        if not isinstance(content, dict) or not isinstance(
                content.get('annotations'), list):
            raise FormatError(f'{ann_file}: expected {{"annotations": '
                              '[...]}}, the VQAv2 annotation format')
        ann_skipper = RecordSkipper(ann_file, skip_invalid)
        for k, a in enumerate(content['annotations']):
            with ann_skipper.record(f'annotation {k}'):
                anns[a['question_id']] = a
        skipper.counts.update(ann_skipper.counts)
    records = {}
    for k, q in enumerate(questions):
        qid = q.get('question_id', k) if isinstance(q, dict) else k
        name = f'question {qid}'
        with skipper.record(name):
            ann = anns.get(q['question_id'])
            if ann_file and ann is None:
                raise ValueError(f'no annotation in {ann_file}')
            if not isinstance(q['question'], str) or not q['question']:
                raise ValueError(f'question text {q["question"]!r}')
            entry = dict(id=q['question_id'], question=q['question'])
            if ann is not None:
                entry['answers'] = [str(a['answer']) for a in ann['answers']]
                entry['type'] = ann.get(type_key, '')
            image_id = q['image_id']
            image = image_pattern.format(image_id=image_id)
            record = records.setdefault(
                image_id, dict(image=image, image_id=image_id, questions=[]))
            record['questions'].append(entry)
    return write_records(out_file, records, skipper)

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--questions', required=True)
    parser.add_argument('--annotations', default=None)
    parser.add_argument(
        '--image-pattern', default='COCO_{image_id:012d}.jpg')
    parser.add_argument('--type-key', default='answer_type')
    parser.add_argument('--out', required=True)
    parser.add_argument('--skip-invalid', action='store_true',
                        help='skip and count bad records')
    args = parser.parse_args()
    counts = exit_on_user_error(lambda: convert_vqav2(
        args.questions, args.out, args.annotations, args.image_pattern,
        args.type_key, args.skip_invalid))
    print(f'wrote {args.out}: {counts["images"]} images, '
          f'{counts["questions"]} questions; skipped {counts["skipped"]} '
          'invalid records')


if __name__ == '__main__':
    main()
