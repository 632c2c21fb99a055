"""FreezeUntilHook: parts get no gradient (so no update) before a given
iteration, then train."""
from types import SimpleNamespace

import torch
from mmengine.logging import MMLogger
from torch import nn

from mmmrmllm.engine.hooks import FreezeUntilHook


class Toy(nn.Module):

    def __init__(self):
        super().__init__()
        self.llm = nn.Linear(3, 3)
        self.head = nn.Linear(3, 1)

    def forward(self, x):
        return self.head(self.llm(x)).sum()


def test_frozen_until_the_iteration_then_trained():
    torch.manual_seed(0)
    model = Toy()
    opt = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.1)
    hook = FreezeUntilHook(parts=['llm'], until_iter=3)
    runner = SimpleNamespace(model=model, iter=0,
                             logger=MMLogger.get_instance('freeze_test'))
    history = []
    for it in range(5):
        runner.iter = it
        hook.before_train_iter(runner, it)
        before = model.llm.weight.detach().clone()
        head_before = model.head.weight.detach().clone()
        opt.zero_grad(set_to_none=True)
        model(torch.randn(4, 3)).backward()
        opt.step()
        history.append((not torch.equal(before, model.llm.weight),
                        not torch.equal(head_before, model.head.weight)))
    # llm: untouched (weight decay included) for iterations 0-2
    assert [h[0] for h in history] == [False, False, False, True, True]
    assert all(h[1] for h in history)


def test_resumed_run_starts_in_the_right_state():
    model = Toy()
    hook = FreezeUntilHook(parts=['llm'], until_iter=3)
    runner = SimpleNamespace(model=model, iter=4,
                             logger=MMLogger.get_instance('freeze_test'))
    hook.before_train_iter(runner, 0)
    assert all(p.requires_grad for p in model.llm.parameters())
    runner.iter = 1
    FreezeUntilHook(parts=['llm'], until_iter=3).before_train_iter(runner, 0)
    assert not any(p.requires_grad for p in model.llm.parameters())


def test_loss_weight_follows_the_milestones():
    from mmmrmllm.engine.hooks import LossWeightHook
    model = SimpleNamespace(lambda_lm=1.0)
    runner = SimpleNamespace(model=model, iter=0,
                             logger=MMLogger.get_instance('freeze_test'))
    hook = LossWeightHook('lambda_lm', [(5, 1.0), (0, 0.0), (8, 0.5)])
    seen = []
    for it in range(10):
        runner.iter = it
        hook.before_train_iter(runner, it)
        seen.append(model.lambda_lm)
    assert seen == [0.0] * 5 + [1.0] * 3 + [0.5] * 2
    import pytest
    with pytest.raises(ValueError, match='lambda_xx'):
        LossWeightHook('lambda_xx', [(0, 1.0)]).before_train_iter(runner, 0)
