"""Helpers of the detector adapters: running a head once and decoding its
outputs, and what some heads read that a training pipeline does not set."""
import contextlib
from typing import Any, List

import torch
from mmdet.structures import SampleList
from torch import nn


def detach(obj: Any) -> Any:
    """``obj`` with every tensor detached (nested lists / tuples)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach()
    if isinstance(obj, (list, tuple)):
        return type(obj)(detach(o) for o in obj)
    return obj


@contextlib.contextmanager
def capture_forward(module: nn.Module):
    """Record the outputs of ``module``'s forward calls inside the block.

    mmdet's head ``loss`` methods call ``self(...)`` once and turn its
    outputs into losses; capturing them lets the adapters decode the same
    outputs instead of calling the head again.

    Yields:
        list: The outputs, in call order.
    """
    outs = []
    handle = module.register_forward_hook(
        lambda mod, args, out: outs.append(out))
    try:
        yield outs
    finally:
        handle.remove()


@contextlib.contextmanager
def eval_mode(module: nn.Module):
    """``module`` in eval mode inside the block (its mode restored after)."""
    was = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was)


def decode_metas(samples: SampleList) -> List[dict]:
    """The samples' metainfo, with what some heads' decoding reads filled
    in where a training pipeline does not set it: CenterNet's ``border``
    (the image's place in a test-time crop; no crop: the whole image)."""
    metas = []
    for s in samples:
        meta = dict(s.metainfo)
        h, w = meta.get('img_shape', meta.get('batch_input_shape', (0, 0)))
        meta.setdefault('border', (0, h, 0, w))
        metas.append(meta)
    return metas


def with_decode_metas(samples: SampleList) -> SampleList:
    """Shallow copies of ``samples`` whose metainfo has :func:`decode_metas`'s
    defaults (for heads whose ``predict`` reads them)."""
    out = []
    for s, meta in zip(samples, decode_metas(samples)):
        c = s.clone()
        c.set_metainfo(meta)
        out.append(c)
    return out


def ensure_loop_info() -> None:
    """Give heads that read the training loop what they read.

    Some heads read the loop's position from MMEngine's message hub (TOOD
    switches its assigner after ``train_cfg.initial_epoch`` epochs). The
    runner's ``RuntimeInfoHook`` sets ``epoch`` / ``iter``; outside a
    runner (the benchmark, inference, a user's script, tests) they are
    missing and such a head fails. Missing values are set to 0 here;
    values a runner or :class:`~mmmrmllm.engine.hooks.EpochFromIterHook`
    set are left alone.
    """
    from mmengine.logging import MessageHub
    hub = MessageHub.get_current_instance()
    for key in ('epoch', 'iter'):
        if hub.get_info(key) is None:
            hub.update_info(key, 0)
