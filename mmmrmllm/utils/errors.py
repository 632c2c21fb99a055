"""Errors the user must fix, and how the tools print them.

Every error about the user's input (config, data, checkpoint, prompt)
derives from :class:`UserError` (a ``ValueError``). The tools print such an
error, wherever it is raised (building the runner, inside the training or
test loop, in a data loader worker), as one ``error: ...`` line and exit
with status 1; anything else is a bug and keeps its traceback.
"""
import re
import sys
from typing import Callable, TypeVar

T = TypeVar('T')


class UserError(ValueError):
    """A problem with the user's input; its message says what to fix.

    ``summary_lines`` (class attribute): how many lines of the message
    :func:`one_line` keeps (None: all).
    """
    summary_lines = None


class PromptTooLongError(UserError):
    """A question does not fit the LLM's context (``too_long='error'``)."""


def is_user_error(err: BaseException) -> bool:
    """Whether ``err`` is one the user must fix (see module doc)."""
    return isinstance(err, (UserError, FileNotFoundError))


def one_line(err: BaseException) -> str:
    """``error: <message>`` on one line.

    An error re-raised by a PyTorch data loader worker carries the worker's
    traceback in its message; only the original message is kept.
    """
    text = str(err)
    lines = getattr(err, 'summary_lines', None)
    if lines:  # the rest is detail (e.g. PyTorch's own message)
        text = '\n'.join(text.strip().splitlines()[:lines])
    if 'Original Traceback' in text:
        last = [ln for ln in text.strip().splitlines() if ln.strip()][-1]
        # "mmmrmllm.datasets.base.DataRecordError: <message>"
        text = re.sub(r'^[\w.]+(Error|Exception): ', '', last.strip())
    return 'error: ' + (' '.join(text.split()) or type(err).__name__)


def exit_on_user_error(fn: Callable[[], T]) -> T:
    """Run ``fn``; a user error becomes one ``error:`` line and exit 1."""
    try:
        return fn()
    except Exception as err:
        if not is_user_error(err):
            raise
        print(one_line(err), file=sys.stderr)
        raise SystemExit(1)


__all__ = [
    'UserError', 'PromptTooLongError', 'is_user_error', 'one_line',
    'exit_on_user_error'
]
