"""One training step of the toy model under a launcher (used by tests).

Usage: ddp_worker.py OUT BATCH_SIZE LAUNCHER
"""
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.dist import get_rank
from mmengine.runner import Runner

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from toy import ToyDataset, ToyModel  # noqa: E402

from mmmrmllm.utils.compat import finish_distributed, setup_cpu_distributed  # noqa: E402


def main():
    out, batch_size, launcher = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    cfg = Config(dict(launcher=launcher))
    setup_cpu_distributed(cfg, launcher)
    runner = Runner(
        model=ToyModel(),
        work_dir=osp.join(osp.dirname(out), f'work_{launcher}'),
        train_dataloader=dict(
            dataset=ToyDataset(num=2),
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=batch_size,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.5)),
        train_cfg=dict(by_epoch=False, max_iters=1),
        default_hooks=dict(checkpoint=None),
        launcher=launcher,
        cfg=cfg,
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        default_scope='mmmrmllm')
    runner.train()
    if get_rank() == 0:
        model = runner.model
        model = getattr(model, 'module', model)
        torch.save(model.state_dict(), out)
    finish_distributed()


if __name__ == '__main__':
    main()
