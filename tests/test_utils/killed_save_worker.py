"""Trains the toy model with checkpoints every 2 iterations (one kept) and
dies (``os._exit``, as a kill would) half-way through writing the second
checkpoint. Used by test_compat.py."""
import io
import os
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.runner import Runner  # noqa: E402

import mmmrmllm  # noqa: E402,F401 - applies the compat fixes
from test_utils.toy import ToyDataset, ToyModel  # noqa: E402

real_save = torch.save
saves = []


def dying_save(obj, f, *args, **kwargs):
    saves.append(1)
    if len(saves) == 2:
        buf = io.BytesIO()
        real_save(obj, buf, *args, **kwargs)
        data = buf.getvalue()
        f.write(data[:len(data) // 2])
        f.flush()
        os._exit(9)
    return real_save(obj, f, *args, **kwargs)


torch.save = dying_save
Runner(
    model=ToyModel(),
    work_dir=sys.argv[1],
    train_dataloader=dict(
        dataset=ToyDataset(),
        sampler=dict(type='DefaultSampler', shuffle=True),
        collate_fn=dict(type='default_collate'),
        batch_size=2,
        num_workers=0),
    optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
    train_cfg=dict(by_epoch=False, max_iters=4),
    default_hooks=dict(
        checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False,
                        max_keep_ckpts=1)),
    randomness=dict(seed=0),
    default_scope='mmmrmllm').train()
