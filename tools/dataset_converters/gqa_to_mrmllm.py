"""Convert GQA questions (official dict or LAVIS list format) to the
documented mmmrmllm JSON format (docs/data_format.md).

Example:
    python tools/dataset_converters/gqa_to_mrmllm.py \
        --questions testdev_balanced_questions.json \
        --image-pattern 'images/{image}' --out data/gqa/testdev_mrmllm.json
"""
import argparse
import json


def convert_gqa(question_file: str,
                out_file: str,
                image_pattern: str = '{image}',
                type_key: str = 'structural') -> dict:
    """Convert GQA to the documented format.

    Args:
        question_file (str): Official ``{qid: {imageId, question, answer,
            types}}`` or LAVIS ``[{image, question, answer, ...}]``.
        out_file (str): Output JSON file.
        image_pattern (str): Image path from ``{image}`` (file name).
        type_key (str): Entry of ``types`` used as question type.

    Returns:
        dict: ``images`` and ``questions`` counts.
    """
    with open(question_file) as f:
        content = json.load(f)
    if isinstance(content, dict):
        items = [
            dict(image=f'{q["imageId"]}.jpg', question_id=qid, **q)
            for qid, q in content.items()
        ]
    else:
        items = content
    records = {}
    for k, q in enumerate(items):
        entry = dict(
            id=q.get('question_id', k),
            question=q['question'],
            type=(q.get('types') or {}).get(type_key, q.get(type_key, '')))
        if q.get('answer') is not None:
            entry['answers'] = [q['answer']]
        record = records.setdefault(
            q['image'],
            dict(image=image_pattern.format(image=q['image']), questions=[]))
        record['questions'].append(entry)
    with open(out_file, 'w') as f:
        json.dump(dict(metainfo={}, data_list=list(records.values())), f)
    return dict(images=len(records), questions=len(items))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--questions', required=True)
    parser.add_argument('--image-pattern', default='{image}')
    parser.add_argument('--type-key', default='structural')
    parser.add_argument('--out', required=True)
    args = parser.parse_args()
    counts = convert_gqa(args.questions, args.out, args.image_pattern,
                         args.type_key)
    print(f'wrote {args.out}: {counts["images"]} images, '
          f'{counts["questions"]} questions')


if __name__ == '__main__':
    main()
