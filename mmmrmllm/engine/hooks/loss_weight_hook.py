"""Change a model's loss weight at given iterations."""
from typing import Sequence, Tuple

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmmrmllm.registry import HOOKS


@HOOKS.register_module()
class LossWeightHook(Hook):
    """Set a loss weight of the model (an attribute such as ``lambda_lm``)
    by iteration: the value of the last milestone reached applies.

    With ``MRMLLM(soft_answer_weight=...)`` and ``milestones=[(0, 0.0),
    (300, 1.0)]`` on ``lambda_lm``, the first 300 iterations train the
    visual path on its own target alone, as BLIP-2 trains its Q-Former
    before the LLM's generative loss. The value follows ``runner.iter``,
    so a resumed run matches an uninterrupted one.

    Args:
        attr (str): The model's attribute, e.g. ``'lambda_lm'``.
        milestones (Sequence[tuple[int, float]]): ``(iteration, value)``,
            by iteration; the first should be at 0.
    """

    priority = 'HIGH'

    def __init__(self, attr: str,
                 milestones: Sequence[Tuple[int, float]]) -> None:
        if not milestones:
            raise ValueError('LossWeightHook needs at least one milestone')
        self.attr = attr
        self.milestones = sorted((int(i), float(v)) for i, v in milestones)

    def value_at(self, iteration: int) -> float:
        value = self.milestones[0][1]
        for it, v in self.milestones:
            if iteration >= it:
                value = v
        return value

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        if not hasattr(model, self.attr):
            raise ValueError(f'LossWeightHook: the model has no {self.attr}')
        value = self.value_at(runner.iter)
        if getattr(model, self.attr) != value:
            setattr(model, self.attr, value)
            runner.logger.info(
                f'iteration {runner.iter}: {self.attr} = {value}')
