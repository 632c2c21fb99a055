"""PartwiseClipOptimWrapper: each model part is clipped by its own norm."""
import copy
import socket

import pytest
import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.model import BaseModel, MMDistributedDataParallel
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmmrmllm.engine import (
    PartwiseClipAmpOptimWrapper,
    PartwiseClipOptimWrapper,
)

CONSTRUCTOR = 'PartwiseClipOptimWrapperConstructor'


class TwoPartModel(BaseModel):
    """``big`` gets gradients thousands of times larger than ``small``."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.big = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 1))
        self.small = nn.Linear(4, 1)
        self.rest = nn.Linear(4, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs) if isinstance(inputs, list) else inputs
        pred = (100 * self.big(x) + 0.01 * self.small(x) +
                0.1 * self.rest(x)).squeeze(-1)
        if mode == 'loss':
            y = torch.stack(data_samples) if isinstance(
                data_samples, list) else data_samples
            return dict(loss=((pred - y)**2).mean())
        return pred


class ToyDataset(Dataset):
    metainfo = dict()

    def __init__(self, num=8):
        gen = torch.Generator().manual_seed(1)
        self.x = torch.randn(num, 4, generator=gen)
        self.y = torch.randn(num, generator=gen)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, idx):
        return dict(inputs=self.x[idx], data_samples=self.y[idx])


def _batch():
    gen = torch.Generator().manual_seed(2)
    return (torch.randn(8, 4, generator=gen, dtype=torch.float64),
            torch.randn(8, generator=gen, dtype=torch.float64))


def _loss(model):
    x, y = _batch()
    return model(x, y, mode='loss')['loss']


def _cfg(parts, default=None, constructor=True,
         type_='PartwiseClipOptimWrapper'):
    # plain SGD with lr=1: the update of each parameter is minus its
    # (clipped) gradient, so update_params exposes the clipped gradients
    cfg = dict(type=type_, optimizer=dict(type='SGD', lr=1.0),
               clip_grad=dict(parts=parts, default=default, norm_type=2))
    if constructor:
        cfg['constructor'] = CONSTRUCTOR
    return cfg


def _norm(tensors):
    return torch.sqrt(sum(t.pow(2).sum() for t in tensors)).item()


def _raw_grads(model):
    """Unclipped gradients of the loss, by parameter name."""
    ref = copy.deepcopy(model)
    _loss(ref).backward()
    return {n: p.grad.clone() for n, p in ref.named_parameters()}


def _applied_grads(model, before):
    return {n: before[n] - p.detach() for n, p in model.named_parameters()}


def _part(grads, prefix):
    return [g for n, g in grads.items() if n.startswith(prefix + '.')]


def _step(cfg):
    model = TwoPartModel().double()
    raw = _raw_grads(model)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optim_wrapper = build_optim_wrapper(model, cfg)
    optim_wrapper.update_params(_loss(model))
    return model, raw, _applied_grads(model, before)


def test_each_part_clipped_by_its_own_norm():
    max_norms = dict(big=1.0, small=10.0, rest=1e-3)
    _, raw, applied = _step(
        _cfg(dict(big=dict(max_norm=1.0), small=dict(max_norm=10.0)),
             default=dict(max_norm=1e-3)))
    for part, max_norm in max_norms.items():
        raw_norm = _norm(_part(raw, part))
        expected = min(raw_norm, max_norm)
        assert _norm(_part(applied, part)) == pytest.approx(expected,
                                                            rel=1e-5)
        # clipping scales, never turns, a part's gradient
        coef = min(1.0, max_norm / (raw_norm + 1e-6))
        for g, a in zip(_part(raw, part), _part(applied, part)):
            torch.testing.assert_close(a, g * coef)
    # the test model is what the wrapper exists for: big is clipped, small
    # is below its max_norm and stays as it is
    assert _norm(_part(raw, 'big')) > 100 * _norm(_part(raw, 'small'))
    assert _norm(_part(raw, 'small')) < 10.0
    assert _norm(_part(raw, 'big')) > 1.0


def test_global_clip_would_shrink_the_small_part():
    cfg = dict(optimizer=dict(type='SGD', lr=1.0),
               clip_grad=dict(max_norm=1.0))
    _, raw, global_applied = _step(cfg)
    _, _, applied = _step(
        _cfg(dict(big=dict(max_norm=1.0), small=dict(max_norm=10.0))))
    small_raw = _norm(_part(raw, 'small'))
    assert _norm(_part(applied, 'small')) == pytest.approx(small_raw)
    assert _norm(_part(global_applied, 'small')) < 0.01 * small_raw


def test_default_none_leaves_other_params_untouched():
    _, raw, applied = _step(_cfg(dict(big=dict(max_norm=1e-3))))
    for name in ('small.weight', 'small.bias', 'rest.weight', 'rest.bias'):
        torch.testing.assert_close(applied[name], raw[name])
    assert _norm(_part(applied, 'big')) == pytest.approx(1e-3, rel=1e-5)


def test_longest_prefix_wins():
    _, raw, applied = _step(
        _cfg({'big': dict(max_norm=1e-3), 'big.1': dict(max_norm=1e-4)}))
    assert _norm(_part(applied, 'big.0')) == pytest.approx(1e-3, rel=1e-5)
    assert _norm(_part(applied, 'big.1')) == pytest.approx(1e-4, rel=1e-5)


def test_message_hub_gets_per_part_norms():
    _, raw, _ = _step(
        _cfg(dict(big=dict(max_norm=1.0), small=None),
             default=dict(max_norm=1.0)))
    hub = MessageHub.get_current_instance()
    norms = {part: _norm(_part(raw, part)) for part in ('big', 'small')}
    norms['default'] = _norm(_part(raw, 'rest'))
    for part, norm in norms.items():
        logged = hub.get_scalar(f'train/grad_norm.{part}').current()
        assert logged == pytest.approx(norm, rel=1e-5), part
    total = hub.get_scalar('train/grad_norm').current()
    assert total == pytest.approx(_norm(raw.values()), rel=1e-5)


@pytest.mark.parametrize('constructor', [True, False])
def test_unknown_part_names_the_children(constructor):
    cfg = _cfg(dict(big=dict(max_norm=1.0), detector=dict(max_norm=1.0)),
               constructor=constructor)
    model = TwoPartModel()
    match = r"'detector'.*TwoPartModel.*\['big', 'small', 'rest'\]$"
    with pytest.raises(ValueError, match=match):
        optim_wrapper = build_optim_wrapper(model, cfg)
        model.train_step(dict(inputs=torch.randn(2, 4),
                              data_samples=torch.randn(2)), optim_wrapper)


def test_switched_off_part_is_ignored():
    """A part the model has switched off (an attribute set to None, like
    MRMLLM.feedback in an ablation) is not a typo: ignored."""
    cfg = _cfg(dict(big=dict(max_norm=1.0), feedback=dict(max_norm=1.0)))
    model = TwoPartModel()
    model.feedback = None
    optim_wrapper = build_optim_wrapper(model, cfg)
    model.train_step(dict(inputs=torch.randn(2, 4),
                          data_samples=torch.randn(2)), optim_wrapper)
    hub = MessageHub.get_current_instance()
    assert hub.get_scalar('train/grad_norm.big').current() > 0


def test_part_without_max_norm_raises():
    with pytest.raises(ValueError, match='max_norm'):
        build_optim_wrapper(TwoPartModel(), _cfg(dict(big=dict())))


def test_binds_lazily_in_train_step():
    """Without the constructor, the first train_step binds the model."""
    model = TwoPartModel()
    cfg = _cfg(dict(big=dict(max_norm=1e-3)), constructor=False)
    data = dict(inputs=torch.randn(2, 4), data_samples=torch.randn(2))
    optim_wrapper = build_optim_wrapper(model, cfg)
    assert isinstance(optim_wrapper, PartwiseClipOptimWrapper)
    with pytest.raises(RuntimeError, match='not bound'):
        optim_wrapper.update_params(model(**data, mode='loss')['loss'])
    optim_wrapper.zero_grad()
    model.train_step(data, optim_wrapper)
    hub = MessageHub.get_current_instance()
    assert hub.get_scalar('train/grad_norm.big').current() > 1e-3


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_ddp_wrapped_model():
    """Names under DDP (``module.big...``) still match the part ``big``."""
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:'
                            f'{_free_port()}', rank=0, world_size=1)
    try:
        model = MMDistributedDataParallel(TwoPartModel().double())
        raw = _raw_grads(model.module)
        before = {n: p.detach().clone()
                  for n, p in model.module.named_parameters()}
        optim_wrapper = build_optim_wrapper(
            model, _cfg(dict(big=dict(max_norm=1e-3)), constructor=False))
        x, y = _batch()
        model.train_step(dict(inputs=x, data_samples=y), optim_wrapper)
        applied = _applied_grads(model.module, before)
    finally:
        dist.destroy_process_group()
    assert _norm(_part(applied, 'big')) == pytest.approx(1e-3, rel=1e-5)
    torch.testing.assert_close(applied['small.weight'], raw['small.weight'])


def test_amp_wrapper_unscales_before_clipping(monkeypatch):
    """The AMP variant clips the unscaled gradients: with a loss scale of
    1024, clipping the scaled ones would leave ``big`` 1024 times too
    small. Runs on the CPU with torch's CPU GradScaler (AmpOptimWrapper
    only asks whether CUDA is there)."""
    import functools

    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp
    monkeypatch.setattr(amp, 'is_cuda_available', lambda: True)
    monkeypatch.setattr(amp, 'GradScaler',
                        functools.partial(torch.amp.GradScaler, 'cpu'))
    model = TwoPartModel().double()
    raw = {n: g.float() for n, g in _raw_grads(model).items()}
    model.float()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    cfg = _cfg(dict(big=dict(max_norm=1e-3)),
               type_='PartwiseClipAmpOptimWrapper')
    cfg['loss_scale'] = 1024.
    optim_wrapper = build_optim_wrapper(model, cfg)
    assert isinstance(optim_wrapper, PartwiseClipAmpOptimWrapper)
    assert optim_wrapper.loss_scaler.get_scale() == 1024.
    x, y = (t.float() for t in _batch())
    optim_wrapper.update_params(model(x, y, mode='loss')['loss'])
    applied = _applied_grads(model, before)
    assert _norm(_part(applied, 'big')) == pytest.approx(1e-3, rel=1e-3)
    hub = MessageHub.get_current_instance()
    # the logged norm is the unscaled one too
    assert hub.get_scalar('train/grad_norm.big').current() == pytest.approx(
        _norm(_part(raw, 'big')), rel=1e-4)
    # unclipped parts step by their unscaled gradient
    torch.testing.assert_close(applied['small.weight'],
                               raw['small.weight'],
                               rtol=1e-3, atol=1e-6)


def test_runner_trains_two_iterations(tmp_path):
    runner = Runner(
        model=TwoPartModel(),
        work_dir=str(tmp_path),
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=2,
            num_workers=0),
        optim_wrapper=dict(
            type='PartwiseClipOptimWrapper',
            optimizer=dict(type='AdamW', lr=2e-4),
            clip_grad=dict(
                parts=dict(big=dict(max_norm=0.1), small=dict(max_norm=1.0)),
                default=dict(max_norm=1.0),
                norm_type=2),
            paramwise_cfg=dict(custom_keys=dict(small=dict(lr_mult=5.0)))),
        train_cfg=dict(by_epoch=False, max_iters=2),
        default_hooks=dict(checkpoint=None,
                           logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0),
        default_scope='mmmrmllm')
    runner.train()
    assert runner.iter == 2
    assert isinstance(runner.optim_wrapper, PartwiseClipOptimWrapper)
    scalars = runner.message_hub.log_scalars
    for key in ('train/grad_norm.big', 'train/grad_norm.small',
                'train/grad_norm.default', 'train/grad_norm'):
        assert len(scalars[key].data[0]) == 2, key
    # paramwise_cfg still reaches the optimizer: small learns 5x faster
    lrs = {id(p): g['lr'] for g in runner.optim_wrapper.param_groups
           for p in g['params']}
    for name, param in runner.model.named_parameters():
        lr = 1e-3 if name.startswith('small.') else 2e-4
        assert lrs[id(param)] == pytest.approx(lr), name
