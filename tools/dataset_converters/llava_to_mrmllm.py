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

from mmmrmllm.datasets.converting import RecordSkipper, write_json
from mmmrmllm.datasets.formats import (
    FormatError,
    conversations_to_questions,
    group_by_image,
    load_json,
)
from mmmrmllm.utils.errors import exit_on_user_error


def convert_llava(in_file: str, out_file: str,
                  skip_invalid: bool = False) -> dict:
    """Convert a LLaVA file to the documented format.

    Records without an image (text-only conversations) are skipped and
    counted. A malformed record stops the conversion with a message naming
    it, or with ``skip_invalid`` is skipped and counted.

    Returns:
        dict: ``images``, ``questions``, ``skipped_text_only`` and
        ``skipped`` (malformed) counts.
    """
    skipper = RecordSkipper(in_file, skip_invalid)
    records = load_json(in_file)
    if not isinstance(records, list):
        raise FormatError(f'{in_file}: expected a list of LLaVA records')
    with_image = [r for r in records
                  if isinstance(r, dict) and r.get('image')]
    text_only = sum(isinstance(r, dict) and not r.get('image')
                    for r in records)
    for k, r in enumerate(records):
        if not isinstance(r, dict):
            with skipper.record(f'record {k}'):
                raise TypeError(f'expected an object, got {r!r:.80}')
    out = []
    for image, raws in group_by_image(with_image).items():
        questions = []
        for raw in raws:
            with skipper.record(f'record {raw.get("id", image)!r}'):
                questions.extend(
                    conversations_to_questions(raw.get('conversations'),
                                               raw.get('id', image)))
        if questions:
            out.append(dict(image=image, questions=questions))
    write_json(out_file, dict(metainfo={}, data_list=out))
    return dict(
        images=len(out),
        questions=sum(len(r['questions']) for r in out),
        skipped_text_only=text_only,
        skipped=skipper.skipped)

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--in', dest='in_file', required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--skip-invalid', action='store_true',
                        help='skip and count malformed records')
    args = parser.parse_args()
    counts = exit_on_user_error(
        lambda: convert_llava(args.in_file, args.out, args.skip_invalid))
    print(f'wrote {args.out}: {counts["images"]} images, '
          f'{counts["questions"]} questions; skipped '
          f'{counts["skipped_text_only"]} text-only and '
          f'{counts["skipped"]} malformed records')


if __name__ == '__main__':
    main()
