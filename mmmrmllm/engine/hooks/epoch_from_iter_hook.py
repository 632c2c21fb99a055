"""Epochs for heads that read them, under an iteration-based schedule."""
from typing import Optional

from mmengine.hooks import Hook

from mmmrmllm.registry import HOOKS


@HOOKS.register_module()
class EpochFromIterHook(Hook):
    """Publish ``epoch = iter // iters_per_epoch`` in the message hub.

    With MMEngine's ``IterBasedTrainLoop`` the message hub's ``epoch``
    stays 0 for the whole run, so a head that switches behaviour after
    some epochs (TOOD's ``train_cfg.initial_epoch``) never switches. This
    hook updates ``epoch`` before every training iteration.

    Args:
        iters_per_epoch (int, optional): Iterations that count as one
            epoch. Defaults to the length of the training dataloader.
    """

    priority = 'NORMAL'  # after RuntimeInfoHook (VERY_HIGH)

    def __init__(self, iters_per_epoch: Optional[int] = None) -> None:
        if iters_per_epoch is not None and iters_per_epoch <= 0:
            raise ValueError(f'iters_per_epoch must be positive, got '
                             f'{iters_per_epoch}')
        self.iters_per_epoch = iters_per_epoch

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        per_epoch = self.iters_per_epoch or len(runner.train_dataloader)
        runner.message_hub.update_info('epoch', runner.iter // per_epoch)
