"""FrozenStateMixin on a toy model: frozen parts stay out of checkpoints
and come back from the built model on load, with a report."""
import torch
from torch import nn

from mmmrmllm.models.frozen_state import FrozenStateMixin


class Frozen(nn.Module):

    def __init__(self):
        super().__init__()
        self.frozen = True
        self.lin = nn.Linear(2, 2)
        self.lin.requires_grad_(False)


class Toy(FrozenStateMixin, nn.Module):

    def __init__(self):
        super().__init__()
        self._sources = {'llm': 'some/dir'}
        self.load_report = None
        self.llm = Frozen()
        self.head = nn.Linear(2, 2)
        self.bn = nn.BatchNorm1d(2)
        self.bn.requires_grad_(False)  # a frozen stage: its stats too
        self.register_frozen_state_hooks()


def test_frozen_keys_are_dropped_and_refilled():
    model = Toy()
    assert model._frozen_components() == ['llm']
    state = model.state_dict()
    assert sorted(state) == ['head.bias', 'head.weight']
    fresh = Toy()
    with torch.no_grad():
        fresh.head.weight.zero_()
    keep = fresh.llm.lin.weight.clone()
    fresh.load_state_dict(dict(state, bogus=torch.zeros(1)), strict=False)
    assert torch.equal(fresh.head.weight, model.head.weight)
    assert torch.equal(fresh.llm.lin.weight, keep)  # kept, not loaded
    report = fresh.load_report
    assert sorted(report['checkpoint']) == ['head.bias', 'head.weight']
    assert sorted(report['kept']['some/dir']) == ['llm.lin.bias',
                                                  'llm.lin.weight']
    assert 'bn.running_mean' in report['kept']['random init']
    assert report['unexpected'] == ['bogus'] and report['missing'] == []
    assert fresh.weight_sources() == {
        'llm': 'some/dir', 'head': 'random init', 'bn': 'random init'}


def test_missing_trainable_key_is_reported():
    model = Toy()
    state = model.state_dict()
    del state['head.bias']
    fresh = Toy()
    fresh.load_state_dict(state, strict=False)
    assert fresh.load_report['missing'] == ['head.bias']
