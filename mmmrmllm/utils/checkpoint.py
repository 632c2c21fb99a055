"""Refuse checkpoints that do not belong to the model.

MMEngine's ``load_checkpoint(strict=False)`` only *warns* about missing,
unexpected or mis-shaped keys, so ``tools/test.py`` given a checkpoint of
another model would evaluate a randomly initialised one. The tools call
:func:`check_checkpoint_matches` first and stop with a one-line error.
"""
import re
from typing import Mapping, Optional, Union

from torch import nn

from .config import ConfigError


class CheckpointMismatchError(ConfigError):
    """The checkpoint's weights do not fit the model built from the config."""


def checkpoint_state_dict(checkpoint: Mapping) -> Mapping:
    """The weights of a loaded checkpoint (MMEngine, mmdet or a plain state
    dict), with a DDP ``module.`` prefix removed."""
    state = checkpoint
    for key in ('state_dict', 'model'):
        if isinstance(state, Mapping) and isinstance(
                state.get(key), Mapping):
            state = state[key]
            break
    if not isinstance(state, Mapping):
        raise CheckpointMismatchError(
            f'the checkpoint holds a {type(state).__name__}, not a state '
            'dict')
    return {re.sub(r'^module\.', '', k): v for k, v in state.items()}


def read_checkpoint(path: str) -> Mapping:
    """Load a checkpoint file memory-mapped, through the safe loader."""
    from .compat import load_checkpoint_file
    try:
        return load_checkpoint_file(path, map_location='cpu', mmap=True)
    except RuntimeError as err:
        if 'mmap' not in str(err):  # e.g. a file in the legacy format
            raise
        return load_checkpoint_file(path, map_location='cpu')


def _shape(value) -> Optional[tuple]:
    return tuple(value.shape) if hasattr(value, 'shape') else None


def _examples(keys, num: int = 3) -> str:
    keys = sorted(keys)
    more = f' (+{len(keys) - num} more)' if len(keys) > num else ''
    return ', '.join(keys[:num]) + more


def check_checkpoint_matches(model: nn.Module,
                             checkpoint: Union[str, Mapping],
                             min_fraction: float = 0.9,
                             name: Optional[str] = None) -> dict:
    """Check that a checkpoint's weights fit ``model``.

    The model's expected keys are those of ``model.state_dict()`` (for
    :class:`MRMLLM` that leaves out frozen weights, which checkpoints do not
    hold). Fails when fewer than ``min_fraction`` of them are in the
    checkpoint or when any shared key has another shape.

    Args:
        model (nn.Module): The model (a DDP wrapper is unwrapped).
        checkpoint (str | Mapping): A checkpoint path (read memory-mapped,
            so a large file costs little) or an already loaded checkpoint.
        min_fraction (float): Smallest share of the model's keys the
            checkpoint must hold. Defaults to 0.9.
        name (str, optional): How to call the checkpoint in messages;
            defaults to its path.

    Returns:
        dict: ``missing`` (model keys not in the checkpoint) and
        ``unexpected`` (checkpoint keys not in the model), both sorted.

    Raises:
        CheckpointMismatchError: naming the checkpoint and the problem.
    """
    if isinstance(checkpoint, str):
        name = name or checkpoint
        try:
            checkpoint = read_checkpoint(checkpoint)
        except FileNotFoundError:
            raise
        except Exception as err:  # not a torch file, truncated, ...
            first = str(err).strip().splitlines()[0] if str(err) else ''
            raise CheckpointMismatchError(
                f'cannot read checkpoint {name}: {type(err).__name__}: '
                f'{first}') from err
    name = name or 'the checkpoint'
    state = checkpoint_state_dict(checkpoint)
    model = getattr(model, 'module', model)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = [k for k in expected if k in state]
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    what = f'checkpoint {name} does not match the model ' \
        f'{type(model).__name__} of the config'
    if expected and len(found) < min_fraction * len(expected):
        raise CheckpointMismatchError(
            f"{what}: it has {len(found)} of the model's {len(expected)} "
            f'weights (missing e.g. {_examples(missing)}; it has '
            f'{_examples(unexpected) or "nothing else"}) - a checkpoint of '
            'another model?')
    wrong = [(k, _shape(state[k]), expected[k]) for k in found
             if _shape(state[k]) is not None
             and _shape(state[k]) != expected[k]]
    if wrong:
        shown = '; '.join(f'{k}: {tuple(c)} in the checkpoint, {tuple(m)} '
                          'in the model' for k, c, m in wrong[:3])
        more = f' (+{len(wrong) - 3} more)' if len(wrong) > 3 else ''
        raise CheckpointMismatchError(
            f'{what}: {len(wrong)} weights have other shapes: {shown}{more}')
    return dict(missing=missing, unexpected=unexpected)


def load_matching_checkpoint(model: nn.Module,
                             path: str,
                             min_fraction: float = 0.9) -> dict:
    """Load ``path`` into ``model`` after :func:`check_checkpoint_matches`.

    Returns:
        dict: The loaded checkpoint (``meta`` etc.).
    """
    from mmengine.runner.checkpoint import (
        _load_checkpoint,
        _load_checkpoint_to_model,
    )
    try:
        checkpoint = _load_checkpoint(path, map_location='cpu')
    except FileNotFoundError:
        raise
    except Exception as err:  # zero bytes, truncated, not a torch file
        first = (str(err).strip().splitlines() or [''])[0]
        raise CheckpointMismatchError(
            f'cannot read checkpoint {path}: {type(err).__name__}: '
            f'{first}') from err
    check_checkpoint_matches(model, checkpoint, min_fraction, name=path)
    _load_checkpoint_to_model(model, checkpoint, strict=False)
    return checkpoint


__all__ = [
    'read_checkpoint', 'CheckpointMismatchError', 'check_checkpoint_matches',
    'checkpoint_state_dict', 'load_matching_checkpoint'
]
