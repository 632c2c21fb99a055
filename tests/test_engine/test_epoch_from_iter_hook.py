from types import SimpleNamespace

import pytest
from mmengine.logging import MessageHub

from mmmrmllm.engine.hooks import EpochFromIterHook
from mmmrmllm.models.det_adapters import ensure_loop_info


def runner_at(it, loader_len=10):
    hub = MessageHub.get_instance('epoch_from_iter_test')
    return SimpleNamespace(iter=it, message_hub=hub,
                           train_dataloader=[None] * loader_len)


@pytest.mark.parametrize('it, per_epoch, epoch', [
    (0, 4, 0), (3, 4, 0), (4, 4, 1), (9, 4, 2), (25, None, 2)])
def test_epoch_follows_the_iteration(it, per_epoch, epoch):
    """Iteration-based schedules: heads that read ``epoch`` (TOOD's
    initial_epoch) see it advance; the default epoch is one pass over the
    training dataloader (10 batches here)."""
    runner = runner_at(it)
    EpochFromIterHook(per_epoch).before_train_iter(runner, 0)
    assert runner.message_hub.get_info('epoch') == epoch


def test_bad_period_and_loop_info_outside_a_runner():
    with pytest.raises(ValueError, match='iters_per_epoch'):
        EpochFromIterHook(0)
    hub = MessageHub.get_instance('loop_info_test')
    assert MessageHub.get_current_instance() is hub
    assert hub.get_info('epoch') is None
    ensure_loop_info()
    assert hub.get_info('epoch') == 0 and hub.get_info('iter') == 0
    hub.update_info('epoch', 7)
    ensure_loop_info()  # a runner's value is left alone
    assert hub.get_info('epoch') == 7
