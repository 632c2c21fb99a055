"""What inference reads besides the model: the test pipeline without
annotation loading, and checks of the user's input."""
from typing import Sequence

from mmengine.config import Config

from mmmrmllm.utils.errors import UserError


class InputError(UserError):
    """A problem with what the user gave (image, question): its message is
    meant to be shown as it is."""


def infer_pipeline(cfg: Config) -> list:
    """The test pipeline of ``cfg`` without annotation loading."""
    dataset = cfg.test_dataloader.dataset
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset.dataset
    pipeline = cfg.get('infer_pipeline', None) or dataset.pipeline
    steps = []
    for step in pipeline:
        name = step['type'] if isinstance(step['type'], str) else \
            step['type'].__name__
        if 'LoadAnnotations' not in name:
            steps.append(step)
    return steps


def check_questions(questions: Sequence[str]) -> None:
    """Refuse empty and non-UTF-8 questions (:class:`InputError`)."""
    for i, q in enumerate(questions, 1):
        try:
            q.encode('utf-8')
        except UnicodeEncodeError:
            # bytes that are not UTF-8 reach argv as lone surrogates
            raise InputError(
                f'question {i} is not valid UTF-8: '
                f'{q.encode("utf-8", "replace").decode("utf-8")[:60]!r}')
        if not q.strip():
            raise InputError(f'question {i} is empty')
