import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook

from mmmrmllm.registry import HOOKS


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save the global random states in checkpoints and restore them on
    resume, so a resumed run draws the same random numbers as an
    uninterrupted one (DINO's denoising queries, dropout, prompt drop rate).

    MMEngine 0.10.7 only re-seeds on resume. The states are restored right
    before the first resumed iteration, after the train loop has advanced
    the dataloader past the iterations already trained (creating the
    iterator draws from torch's generator).
    """
    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['random_state'] = dict(
            python=random.getstate(),
            numpy=np.random.get_state(),
            torch=torch.get_rng_state(),
            cuda=torch.cuda.get_rng_state_all()
            if torch.cuda.is_available() else None)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # loading weights only (load_from without resume) keeps the seed
        if runner._resume:
            self._pending = checkpoint.get('random_state')

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        random.setstate(state['python'])
        np.random.set_state(state['numpy'])
        torch.set_rng_state(state['torch'])
        if state.get('cuda') is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])
