"""Keep parts of a model frozen for the first iterations of a run."""
from typing import Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmmrmllm.registry import HOOKS


@HOOKS.register_module()
class FreezeUntilHook(Hook):
    """Freeze ``parts`` (no gradient, so no update: AdamW skips a
    parameter without a gradient, weight decay included) before iteration
    ``until_iter``, then let them train: BLIP-2's / LLaVA's alignment with
    the LLM frozen, then instruction tuning, in one run.

    The parts must be trainable in the config (e.g. ``LLMHead(train_mode=
    'full')``), so the optimizer holds their parameters from the start.
    The switch follows ``runner.iter``, so a resumed run is frozen exactly
    when an uninterrupted one is.

    Args:
        parts (Sequence[str]): Attribute paths on the model, e.g.
            ``('llm',)``.
        until_iter (int): First iteration in which the parts train.
    """

    priority = 'HIGH'

    def __init__(self, parts: Sequence[str] = ('llm', ),
                 until_iter: int = 0) -> None:
        self.parts = tuple(parts)
        self.until_iter = until_iter
        self._state = None

    def _set(self, runner, trainable: bool) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        for path in self.parts:
            part = model
            for name in path.split('.'):
                part = getattr(part, name)
            if part is None:
                raise ValueError(f'FreezeUntilHook: the model has no {path}')
            for p in part.parameters():
                p.requires_grad_(trainable)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        trainable = runner.iter >= self.until_iter
        if self._state != trainable:
            self._set(runner, trainable)
            self._state = trainable
            runner.logger.info(
                f'iteration {runner.iter}: {", ".join(self.parts)} '
                f'{"train" if trainable else "frozen"}')
