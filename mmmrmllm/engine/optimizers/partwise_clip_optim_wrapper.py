from collections import defaultdict
from contextlib import contextmanager
from typing import Dict, List, Optional

import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmengine.optim import (
    AmpOptimWrapper,
    DefaultOptimWrapperConstructor,
    OptimWrapper,
)

from mmmrmllm.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + '.')


class PartwiseClipMixin:
    """Clip the gradient norm of each named part of the model on its own.

    Each part (a module-name prefix of the model; the longest match wins)
    gets its own :func:`torch.nn.utils.clip_grad_norm_` coefficient, so a
    part with large gradients no longer shrinks the others' updates. Each
    part's pre-clip norm is logged as ``grad_norm.<part>`` (the rest as
    ``grad_norm.default``), their combined norm as ``grad_norm``.

    Names come from the model: :class:`PartwiseClipOptimWrapperConstructor`
    binds it at build time, else the first ``optim_context(model)`` does
    (``BaseModel.train_step`` enters it). Model wrappers (DDP, FSDP) are
    unwrapped. Under FSDP each rank holds a shard of every gradient: the
    shards' norms are combined over the process group, so every rank clips
    by the norm of the whole gradient, as without sharding (OptimWrapper's
    own ``clip_grad`` clips each rank by its shard's norm).

    Args:
        clip_grad (dict, optional): ``parts``: part prefix -> kwargs of
            :func:`torch.nn.utils.clip_grad_norm_` (``max_norm`` required),
            or None to log the part's norm without clipping it. ``default``:
            kwargs for the parameters of no part; None (the default) leaves
            them unclipped. ``norm_type``: 2 by default. Defaults to None
            (no clipping).
        *args, **kwargs: Passed to the optimizer wrapper.
    """

    def __init__(self, *args, clip_grad: Optional[dict] = None, **kwargs):
        super().__init__(*args, **kwargs)
        cfg = dict(clip_grad or {})
        if cfg.pop('type', 'norm') != 'norm':
            raise ValueError('PartwiseClip* clips by norm only')
        self.norm_type = float(cfg.pop('norm_type', 2))
        parts = cfg.pop('parts', None) or {}
        default = cfg.pop('default', None)
        if cfg:
            raise ValueError(f'Unknown clip_grad keys {sorted(cfg)}; expected'
                             ' parts, default, norm_type')
        self.part_cfgs: Dict[Optional[str], Optional[dict]] = {
            part: self._clip_kwargs(c) for part, c in parts.items()}
        self.part_cfgs[None] = self._clip_kwargs(default)
        self._param_parts: Optional[Dict[int, Optional[str]]] = None
        self._parts: List[Optional[str]] = []
        self._shard_group = None
        # a truthy value makes ``step`` call ``_clip_grad`` (after unscaling
        # the gradients, for AMP)
        self.clip_grad_kwargs = dict(clip_grad) if clip_grad else {}

    def _clip_kwargs(self, cfg: Optional[dict]) -> Optional[dict]:
        if cfg is None:
            return None
        if 'max_norm' not in cfg:
            raise ValueError(f'clip_grad part config {cfg} has no max_norm')
        return {'norm_type': self.norm_type, **cfg}

    def bind_model(self, model: nn.Module) -> None:
        """Map the parameters of ``model`` to the configured parts.

        Args:
            model (nn.Module): The model this wrapper optimizes.

        Raises:
            ValueError: If a part prefix matches no parameter of the model.
        """
        self._shard_group = _shard_group(model)
        if is_model_wrapper(model):
            model = model.module
        # nested FSDP units put their wrapper's name into the path
        named = [(_clean(name), param)
                 for name, param in model.named_parameters()]
        prefixes = sorted((p for p in self.part_cfgs if p is not None),
                          key=len, reverse=True)
        for part in list(prefixes):
            if not any(_matches(name, part) for name, _ in named):
                top = part.split('.')[0]
                if hasattr(model, top) and getattr(model, top) is None:
                    # a part the model has switched off (e.g. feedback in
                    # an ablation, the LLM of a detector-only baseline)
                    MMLogger.get_current_instance().info(
                        f'clip_grad part {part!r}: {top} is off in this '
                        'model; ignored')
                    prefixes.remove(part)
                    continue
                children = [
                    name for name, child in model.named_children()
                    if any(True for _ in child.parameters())]
                raise ValueError(
                    f'clip_grad part {part!r} matches no parameter of '
                    f'{type(model).__name__}; its top-level children with '
                    f'parameters are {children}')
        self._param_parts = {
            id(param): next((p for p in prefixes if _matches(name, p)), None)
            for name, param in named}
        # every rank walks the parts in this order (one collective for all)
        self._parts = sorted(prefixes) + [None]

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Bind ``model`` on first use, then enter the parent's context."""
        if self._param_parts is None and self.clip_grad_kwargs:
            self.bind_model(model)
        with super().optim_context(model):
            yield

    def _clip_grad(self) -> None:
        """Clip (and log) the gradient norm of each part separately."""
        if self._param_parts is None:
            raise RuntimeError(
                f'{type(self).__name__} is not bound to a model: build it '
                "with constructor='PartwiseClipOptimWrapperConstructor', "
                'call bind_model(model), or step inside optim_context(model)')
        groups: Dict[Optional[str], List[torch.Tensor]] = defaultdict(list)
        for group in self.optimizer.param_groups:
            for param in group['params']:
                if param.requires_grad and param.grad is not None:
                    part = self._param_parts.get(id(param))
                    groups[part].append(param)
        norms = []
        for part, norm in self._part_norms(groups).items():
            cfg = self.part_cfgs[part]
            if cfg is not None and groups[part]:
                torch.nn.utils.clip_grads_with_norm_(
                    groups[part], cfg['max_norm'], norm,
                    foreach=cfg.get('foreach'))
            norms.append(norm)
            self.message_hub.update_scalar(
                f'train/grad_norm.{part or "default"}', float(norm))
        if norms:
            total = torch.nn.utils.get_total_norm(norms, self.norm_type)
            self.message_hub.update_scalar('train/grad_norm', float(total))

    def _part_norms(self, groups: Dict[Optional[str], List[torch.Tensor]]
                    ) -> Dict[Optional[str], torch.Tensor]:
        """Pre-clip gradient norm of each part that has gradients.

        Under FSDP each rank holds a disjoint shard of every gradient: the
        local norms are combined over the shard group, so every rank
        clips by the norm of the whole (unsharded) gradient.
        """
        if self._shard_group is None:
            return {
                part: torch.nn.utils.get_total_norm(
                    [p.grad for p in params], self.norm_type)
                for part, params in groups.items()}
        import torch.distributed as dist
        local = []
        for part in self._parts:
            grads = [p.grad for p in groups.get(part, [])]
            norm = torch.nn.utils.get_total_norm(
                grads, self.norm_type) if grads else torch.zeros(())
            local.append(torch.stack([norm.float().cpu(),
                                      torch.tensor(float(len(grads)))]))
        local = torch.stack(local).to(self._shard_device())
        if self.norm_type == float('inf'):
            dist.all_reduce(local, dist.ReduceOp.MAX, group=self._shard_group)
            totals = local[:, 0]
        else:
            local[:, 0] = local[:, 0]**self.norm_type
            dist.all_reduce(local, group=self._shard_group)
            totals = local[:, 0]**(1.0 / self.norm_type)
        return {part: totals[i].cpu() for i, part in enumerate(self._parts)
                if local[i, 1] > 0}

    def _shard_device(self) -> torch.device:
        import torch.distributed as dist
        if dist.get_backend(self._shard_group) == 'gloo':
            return torch.device('cpu')
        return torch.device('cuda', torch.cuda.current_device())


def _shard_group(model: nn.Module):
    """The process group a FSDP-wrapped ``model`` shards over, else None
    (DDP and single-process gradients are whole on every rank)."""
    from torch.distributed.fsdp import (
        FullyShardedDataParallel,
        ShardingStrategy,
    )
    if not isinstance(model, FullyShardedDataParallel):
        return None
    if model.sharding_strategy == ShardingStrategy.NO_SHARD:
        return None
    return model.process_group


def _clean(name: str) -> str:
    from torch.distributed.fsdp._common_utils import FSDP_WRAPPED_MODULE
    return name.replace(FSDP_WRAPPED_MODULE + '.', '')


@OPTIM_WRAPPERS.register_module()
class PartwiseClipOptimWrapper(PartwiseClipMixin, OptimWrapper):
    """:class:`OptimWrapper` that clips each model part by its own norm.

    See :class:`PartwiseClipMixin` for ``clip_grad``. Example::

        optim_wrapper = dict(
            type='PartwiseClipOptimWrapper',
            optimizer=dict(type='AdamW', lr=2e-4),
            clip_grad=dict(
                parts=dict(detector=dict(max_norm=0.1),
                           llm=dict(max_norm=1.0)),
                default=dict(max_norm=1.0), norm_type=2))
    """


@OPTIM_WRAPPERS.register_module()
class PartwiseClipAmpOptimWrapper(PartwiseClipMixin, AmpOptimWrapper):
    """:class:`AmpOptimWrapper` that clips each model part by its own norm.

    The gradients are unscaled before clipping, as in ``AmpOptimWrapper``.
    """


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class PartwiseClipOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Build the optimizer wrapper as the default constructor does, then bind
    it to the model, so unknown parts fail at build time."""

    def __call__(self, model: nn.Module) -> OptimWrapper:
        optim_wrapper = super().__call__(model)
        if isinstance(optim_wrapper, PartwiseClipMixin):
            optim_wrapper.bind_model(model)
        return optim_wrapper
