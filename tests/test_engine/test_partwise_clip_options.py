"""PartwiseClipOptimWrapper's options: norm type, omitted keys, parts a
model has switched off, and the exact refusals."""
from unittest import mock

import pytest
import torch
from mmengine.logging import MessageHub, MMLogger
from mmengine.optim import build_optim_wrapper
from test_partwise_clip import TwoPartModel, _loss, _norm, _part, _raw_grads


def _build(clip_grad, model=None):
    model = model or TwoPartModel().double()
    return model, build_optim_wrapper(model, dict(
        type='PartwiseClipOptimWrapper', optimizer=dict(type='SGD', lr=1.0),
        clip_grad=clip_grad,
        constructor='PartwiseClipOptimWrapperConstructor'))


def _scalar(key):
    return MessageHub.get_current_instance().get_scalar(key).current()


def test_norm_type_applies_to_parts_and_total():
    model, wrapper = _build(dict(parts=dict(big=dict(max_norm=1e9),
                                            small=None), norm_type=1))
    raw = _raw_grads(model)
    wrapper.update_params(_loss(model))
    l1 = {part: sum(g.abs().sum().item() for g in _part(raw, part))
          for part in ('big', 'small', 'rest')}
    assert _scalar('train/grad_norm.big') == pytest.approx(l1['big'])
    assert _scalar('train/grad_norm.small') == pytest.approx(l1['small'])
    assert _scalar('train/grad_norm') == pytest.approx(sum(l1.values()))
    # the default is the 2-norm
    model, wrapper = _build(dict(parts=dict(big=dict(max_norm=1e9))))
    raw = _raw_grads(model)
    wrapper.update_params(_loss(model))
    assert _scalar('train/grad_norm.big') == pytest.approx(
        _norm(_part(raw, 'big')))


def test_omitted_keys():
    # no parts: the default clips everything; no default: the rest is free
    model, wrapper = _build(dict(default=dict(max_norm=1e-3)))
    wrapper.update_params(_loss(model))
    assert _scalar('train/grad_norm.default') > 1e-3
    model, wrapper = _build(dict(parts=dict(small=dict(max_norm=1e-9))))
    before = model.big[0].weight.detach().clone()
    raw = _raw_grads(model)
    wrapper.update_params(_loss(model))
    torch.testing.assert_close(before - model.big[0].weight,
                               raw['big.0.weight'])
    # no clip_grad at all: a plain step
    model, wrapper = _build(None)
    assert not wrapper.clip_grad_kwargs
    wrapper.update_params(_loss(model))


def test_switched_off_parts_are_ignored_and_logged():
    model = TwoPartModel().double()
    model.feedback = None
    logger = MMLogger.get_current_instance()
    with mock.patch.object(logger, 'info') as info:
        _build(dict(parts={'feedback.gate': dict(max_norm=1.0),
                           'big': dict(max_norm=1.0)}), model)
    info.assert_called_once_with(
        "clip_grad part 'feedback.gate': feedback is off in this model; "
        'ignored')
    # a switched-off part does not hide a misspelled one after it
    with pytest.raises(ValueError, match="^clip_grad part 'bgi' matches"):
        _build(dict(parts={'feedback.gate': dict(max_norm=1.0),
                           'bgi': dict(max_norm=1.0)}), model)


@pytest.mark.parametrize('clip_grad, message', [
    (dict(type='value', parts={}), r'^PartwiseClip\* clips by norm only$'),
    (dict(parts={}, max_norm=1.0), r"^Unknown clip_grad keys \['max_norm'\]"
     '; expected parts, default, norm_type$'),
])
def test_refusals(clip_grad, message):
    with pytest.raises(ValueError, match=message):
        _build(clip_grad)


def test_unbound_message():
    model = TwoPartModel().double()
    wrapper = build_optim_wrapper(model, dict(
        type='PartwiseClipOptimWrapper', optimizer=dict(type='SGD', lr=1.0),
        clip_grad=dict(parts=dict(big=dict(max_norm=1.0)))))
    with pytest.raises(RuntimeError) as err:
        wrapper.update_params(_loss(model))
    assert str(err.value) == (
        'PartwiseClipOptimWrapper is not bound to a model: build it with '
        "constructor='PartwiseClipOptimWrapperConstructor', call "
        'bind_model(model), or step inside optim_context(model)')


@pytest.mark.parametrize('norm_type', [2, 1, float('inf')])
def test_sharded_norms_equal_whole_norms(norm_type):
    """The FSDP path combines per-rank norms over the shard group: with one
    rank (a gloo group of one process) it must give the norms and the
    clipped gradients of the whole-gradient path; a part without
    gradients is left out, as there."""
    import torch.distributed as dist
    from test_partwise_clip import _free_port
    clip_grad = dict(parts=dict(big=dict(max_norm=1e-3), small=None,
                                rest=dict(max_norm=10.0)),
                     default=dict(max_norm=1.0), norm_type=norm_type)
    model, whole = _build(clip_grad)
    model.rest.requires_grad_(False)
    whole.update_params(_loss(model))
    expected = {k: _scalar(f'train/grad_norm.{k}')
                for k in ('big', 'small')}
    expected_total = _scalar('train/grad_norm')
    expected_params = [p.detach().clone() for p in model.parameters()]
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:'
                            f'{_free_port()}', rank=0, world_size=1)
    try:
        model, sharded = _build(clip_grad)
        model.rest.requires_grad_(False)
        sharded._shard_group = dist.group.WORLD
        assert sharded._shard_device() == torch.device('cpu')
        hub = MessageHub.get_current_instance()
        hub.update_scalar('train/grad_norm.rest', -1.0)
        sharded.update_params(_loss(model))
    finally:
        dist.destroy_process_group()
    for key, value in expected.items():
        assert _scalar(f'train/grad_norm.{key}') == pytest.approx(
            value, rel=1e-5), key
    assert _scalar('train/grad_norm') == pytest.approx(expected_total,
                                                       rel=1e-5)
    assert _scalar('train/grad_norm.rest') == -1.0  # no gradients: no norm
    for p, q in zip(model.parameters(), expected_params):
        torch.testing.assert_close(p.detach(), q)
