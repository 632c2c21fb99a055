"""SkipAheadIterBasedTrainLoop: a resumed run trains on the very samples an
uninterrupted run would, without loading the ones it skips."""
import os.path as osp
import sys

import torch
from mmengine.runner import IterBasedTrainLoop, Runner

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                            'test_utils'))

from toy import ToyDataset, ToyModel  # noqa: E402

from mmmrmllm.engine import SkipAheadIterBasedTrainLoop  # noqa: E402


class Counting(ToyDataset):
    """Records every index it loads (in a class attribute: the Runner
    copies its dataset)."""
    loaded = []

    def __init__(self):
        super().__init__(num=12)

    def __getitem__(self, idx):
        Counting.loaded.append(idx)
        return super().__getitem__(idx)


def run(work_dir, loop, max_iters, resume=False):
    Counting.loaded = []
    runner = Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=Counting(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            batch_size=2,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(type=loop, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(
            type='CheckpointHook', interval=4, by_epoch=False)),
        resume=resume,
        randomness=dict(seed=0),
        default_scope='mmmrmllm')
    runner.train()
    return Counting.loaded, runner.model.linear.weight.detach().clone()


def test_resume_skips_by_index_and_trains_the_same_samples(tmp_path):
    """12 samples, batch 2: 6 iterations an epoch. Stopped at 8 (in the
    second epoch) and resumed to 10, the run loads exactly the samples
    iterations 8-9 of an uninterrupted run load (shuffled: the second
    epoch's order), and ends with its weights."""
    stop = 8
    whole, w_whole = run(tmp_path / 'whole', SkipAheadIterBasedTrainLoop,
                         10)
    first, _ = run(tmp_path / 'cut', SkipAheadIterBasedTrainLoop, stop)
    assert first == whole[:2 * stop]
    rest, w_rest = run(tmp_path / 'cut', SkipAheadIterBasedTrainLoop, 10,
                       resume=True)
    assert rest == whole[2 * stop:]
    torch.testing.assert_close(w_rest, w_whole, atol=0, rtol=0)
    # MMEngine's own loop loads the skipped samples again
    again, _ = run(tmp_path / 'cut', IterBasedTrainLoop, 10, resume=True)
    assert again[:2 * stop] == whole[:2 * stop]
