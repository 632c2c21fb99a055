"""FSDP for the joint model: where to cut it into units, and checkpoints.

An FSDP unit gathers its shard of the weights in its ``forward`` only. The
joint model calls many of its parts by other methods -- the detector's
``extract_feat`` and head losses, the LLM's ``generate`` -- so a unit
around such a part hands them sharded (empty) weights. torch's
``size_based_auto_wrap_policy`` wraps any module above the size, those
parts included. FSDP (v1) also flattens a unit into one tensor of one
dtype, and the paper config keeps the frozen LLM in bf16 next to fp32
parts. Frozen weights are kept out of checkpoints by a state-dict hook of
the model (:class:`FrozenStateMixin`), which FSDP's own hooks refuse.
"""
import weakref
from contextlib import contextmanager

import torch
from mmengine._strategy import FSDPStrategy
from torch import nn

_MEMBERS = weakref.WeakSet()  # children of containers seen so far
_CONTAINERS = (nn.ModuleList, nn.Sequential, nn.ModuleDict)


def block_auto_wrap_policy(module: nn.Module, recurse: bool,
                           nonwrapped_numel: int,
                           min_num_params: int = int(1e8)) -> bool:
    """Wrap the blocks of stacks by size, and low-precision leaves.

    A unit is made of (a) a member of a ``ModuleList`` / ``Sequential`` /
    ``ModuleDict`` (a transformer or ResNet layer, a LoRA adapter: called
    by its container's owner through ``forward``) holding at least
    ``min_num_params`` parameters not yet in a unit, or (b) a leaf module
    whose parameters are not float32 (the bf16 LLM's embeddings, norms,
    head and, with LoRA, base weights), so that every unit has one dtype.
    Everything else stays in its parent's unit, the root's at the top.

    Args:
        module (nn.Module): The module FSDP asks about.
        recurse (bool): True when FSDP asks whether to look into the
            children (always yes).
        nonwrapped_numel (int): Parameters of ``module`` not yet in a unit.
        min_num_params (int): Smallest block to wrap. Defaults to 1e8.

    Returns:
        bool: Whether to descend (``recurse``) or to wrap ``module``.
    """
    if recurse:
        # parents are asked before their children: remember the members
        if isinstance(module, _CONTAINERS):
            _MEMBERS.update(module.children())
        return True
    if isinstance(module, _CONTAINERS):
        return False
    params = list(module.parameters(recurse=False))
    leaf = not any(True for _ in module.children())
    if leaf and any(p.dtype != torch.float32 for p in params):
        return True
    return module in _MEMBERS and nonwrapped_numel >= min_num_params


@contextmanager
def _keep_frozen_keys(model: nn.Module):
    """Switch the model's frozen-key dropping state-dict hook off."""
    from mmmrmllm.models.frozen_state import FrozenStateMixin
    hooks = model._state_dict_hooks
    off = {k: h for k, h in hooks.items()
           if h is FrozenStateMixin._drop_frozen_hook}
    for key in off:
        del hooks[key]
    try:
        yield
    finally:
        hooks.update(off)


class FrozenStateFSDPStrategy(FSDPStrategy):
    """MMEngine's :class:`FSDPStrategy` for a model that keeps its frozen
    weights out of checkpoints (:class:`FrozenStateMixin`).

    FSDP's full state dict asserts that every parameter is present, so the
    model's hook cannot drop the frozen ones inside it: they are dropped
    from FSDP's result instead. Loading fills them back as without FSDP.
    Resuming also needed a fix: MMEngine 0.10.7 passes the optimizer state
    to ``FSDP.optim_state_dict_to_load`` in torch 1.x's argument order.
    """

    def model_state_dict(self) -> dict:
        inner = self.model.module
        if not hasattr(inner, 'frozen_state_keys'):
            return super().model_state_dict()
        with _keep_frozen_keys(inner):
            state = super().model_state_dict()
        for key in inner.frozen_state_keys():
            state.pop(key.replace('_fsdp_wrapped_module.', ''), None)
        return state

    def load_optim_state_dict(self, state_dict: dict) -> None:
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        optim_state_dict = FSDP.optim_state_dict_to_load(
            self.model, self.optim_wrapper.optimizer, state_dict)
        self.optim_wrapper.load_state_dict(optim_state_dict)
