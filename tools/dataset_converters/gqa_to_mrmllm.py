"""Convert GQA questions (official dict or LAVIS list format) to the
documented mmmrmllm JSON format (docs/data_format.md).

Example:
    python tools/dataset_converters/gqa_to_mrmllm.py \
        --questions testdev_balanced_questions.json \
        --image-pattern 'images/{image}' --out data/gqa/testdev_mrmllm.json
"""
import argparse

from mmmrmllm.datasets.converting import RecordSkipper, write_records
from mmmrmllm.datasets.formats import FormatError, load_json
from mmmrmllm.utils.errors import exit_on_user_error


def convert_gqa(question_file: str,
                out_file: str,
                image_pattern: str = '{image}',
                type_key: str = 'structural',
                skip_invalid: bool = False) -> dict:
    """Convert GQA to the documented format.

    Args:
        question_file (str): Official ``{qid: {imageId, question, answer,
            types}}`` or LAVIS ``[{image, question, answer, ...}]``.
        out_file (str): Output JSON file.
        image_pattern (str): Image path from ``{image}`` (file name).
        type_key (str): Entry of ``types`` used as question type.
        skip_invalid (bool): Skip and count bad questions instead of
            stopping at the first.

    Returns:
        dict: ``images``, ``questions`` and ``skipped`` counts.
    """
    skipper = RecordSkipper(question_file, skip_invalid)
    content = load_json(question_file, 'question file')
    items = []
    if isinstance(content, dict):
        for qid, q in content.items():
            with skipper.record(f'question {qid}'):
                items.append(
                    dict(q, image=f'{q["imageId"]}.jpg', question_id=qid))
    elif isinstance(content, list):
        items = content
    else:
        raise FormatError(f'{question_file}: expected the GQA dict or the '
                          'LAVIS list of questions')
    records = {}
    for k, q in enumerate(items):
        qid = q.get('question_id', k) if isinstance(q, dict) else k
        with skipper.record(f'question {qid}'):
            if not isinstance(q['question'], str) or not q['question']:
                raise ValueError(f'question text {q["question"]!r}')
            entry = dict(
                id=qid,
                question=q['question'],
                type=(q.get('types') or {}).get(type_key,
                                                q.get(type_key, '')))
            if q.get('answer') is not None:
                entry['answers'] = [str(q['answer'])]
            image = image_pattern.format(image=q['image'])
            record = records.setdefault(
                q['image'], dict(image=image, questions=[]))
            record['questions'].append(entry)
    return write_records(out_file, records, skipper)

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--questions', required=True)
    parser.add_argument('--image-pattern', default='{image}')
    parser.add_argument('--type-key', default='structural')
    parser.add_argument('--out', required=True)
    parser.add_argument('--skip-invalid', action='store_true',
                        help='skip and count bad records')
    args = parser.parse_args()
    counts = exit_on_user_error(lambda: convert_gqa(
        args.questions, args.out, args.image_pattern, args.type_key,
        args.skip_invalid))
    print(f'wrote {args.out}: {counts["images"]} images, '
          f'{counts["questions"]} questions; skipped {counts["skipped"]} '
          'invalid records')


if __name__ == '__main__':
    main()
