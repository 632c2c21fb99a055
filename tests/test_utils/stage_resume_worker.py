"""Trains the main job's stage 1c as ``make demo`` does (its config through
a cached ``Stage``), at smoke size (4 iterations of 2 images, a checkpoint
every 2) on a stand-in LLM, without validation (no benchmark files). With
``KILL_AFTER`` > 0 it kills itself (SIGKILL, as ``kill -9``) after that
many iterations. Prints the stage's record as JSON. Used by
test_stage_resume.py.

Usage: stage_resume_worker.py CACHE_DIR LLM_DIR KILL_AFTER
"""
import json
import os
import os.path as osp
import signal
import sys

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))

import demo  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from mmmrmllm.utils import register_all_modules  # noqa: E402
from mmmrmllm.utils.stages import Stage  # noqa: E402

cache, llm, kill_after = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.set_num_threads(1)
register_all_modules(init_default_scope=False)
cfg = Config.fromfile(demo.MLLM_CONFIG)
demo.shrink(cfg, iters=4)
cfg.default_hooks.checkpoint.interval = 2
cfg.model.llm.name_or_path = llm
cfg.model.mllm.instruction_tokenizer = llm
cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
cfg.randomness = dict(seed=0)


class Kill(Hook):

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)


def train(cfg):
    runner = Runner.from_cfg(cfg)
    if kill_after:
        runner.register_hook(Kill(), 'LOWEST')
    runner.train()


record = Stage('mllm', cfg, None, dict(hf_instructblip='hf_instructblip'),
               root=cache).run(train)
print('RECORD ' + json.dumps(record))
