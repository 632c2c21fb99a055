"""Convert a LLaVA conversation file to the documented mmmrmllm JSON format
(docs/data_format.md): conversations of one image become one record, each
human/assistant turn pair one question.

MRMLLMJsonDataset also reads LLaVA files as they are; converting once
checks the file and groups it ahead of training.

Example:
    python tools/dataset_converters/llava_to_mrmllm.py \
        --in llava_instruct_150k.json --out data/llava/instruct_mrmllm.json
"""
import argparse
import json

from mmmrmllm.datasets.formats import (
    conversations_to_questions,
    group_by_image,
)


def convert_llava(in_file: str, out_file: str) -> dict:
    """Convert a LLaVA file to the documented format.

    Records without an image (text-only conversations) are skipped and
    counted.

    Returns:
        dict: ``images``, ``questions`` and ``skipped_text_only`` counts.
    """
    with open(in_file) as f:
        records = json.load(f)
    with_image = [r for r in records if r.get('image')]
    out = []
    num_questions = 0
    for image, raws in group_by_image(with_image).items():
        questions = []
        for raw in raws:
            questions.extend(
                conversations_to_questions(raw['conversations'],
                                           raw.get('id', image)))
        num_questions += len(questions)
        out.append(dict(image=image, questions=questions))
    with open(out_file, 'w') as f:
        json.dump(dict(metainfo={}, data_list=out), f)
    return dict(
        images=len(out),
        questions=num_questions,
        skipped_text_only=len(records) - len(with_image))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--in', dest='in_file', required=True)
    parser.add_argument('--out', required=True)
    args = parser.parse_args()
    counts = convert_llava(args.in_file, args.out)
    print(f'wrote {args.out}: {counts["images"]} images, '
          f'{counts["questions"]} questions; skipped '
          f'{counts["skipped_text_only"]} text-only records')


if __name__ == '__main__':
    main()
