"""Shared by the dataset converters (``tools/dataset_converters``).

A bad record stops a conversion with one line naming the input file and
the record, or, with ``skip_invalid`` (``--skip-invalid``), is skipped,
reported and counted; the output is written atomically.
"""
import json
import os
import sys
from collections import Counter
from contextlib import contextmanager

from .formats import FormatError


class RecordSkipper:
    """Turn a failure inside one record into an error or a counted skip.

    Example::

        skipper = RecordSkipper('questions.json', skip_invalid=True)
        for q in questions:
            with skipper.record(f'question {q.get("question_id")}'):
                ...  # build the output entry, then store it last

    Args:
        source (str): The input file, named in messages.
        skip_invalid (bool): Skip and count instead of raising.
    """

    def __init__(self, source: str, skip_invalid: bool = False) -> None:
        self.source = source
        self.skip_invalid = skip_invalid
        self.counts: Counter = Counter()

    @contextmanager
    def record(self, name: str):
        try:
            yield
        except (KeyError, TypeError, ValueError, AttributeError,
                IndexError) as err:
            what = f'missing field {err}' if isinstance(err, KeyError) \
                else f'{err}'
            msg = f'{self.source}: {name}: {what}'
            if not self.skip_invalid:
                raise FormatError(
                    f'{msg} (use --skip-invalid to skip and count such '
                    'records)') from err
            self.counts[type(err).__name__] += 1
            print(f'skipped {msg}', file=sys.stderr)

    @property
    def skipped(self) -> int:
        return sum(self.counts.values())


def write_json(path: str, obj) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (temp file + rename)."""
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w') as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def write_records(path: str, records: dict, skipper: RecordSkipper) -> dict:
    """Write per-image records (key -> ``{image, questions, ...}``) in the
    documented format and return the counts a converter reports."""
    write_json(path, dict(metainfo={}, data_list=list(records.values())))
    return dict(
        images=len(records),
        questions=sum(len(r['questions']) for r in records.values()),
        skipped=skipper.skipped)


__all__ = ['RecordSkipper', 'write_json', 'write_records']
