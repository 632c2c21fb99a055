"""Checkpoints of a model with frozen parts: save only what trains.

A frozen vision encoder or LLM (billions of parameters, loaded from a
pretrained directory at build time) is not written into every checkpoint;
loading fills those keys back from the built model and reports where each
kept key came from.
"""
import os.path as osp
from typing import Callable, Dict, List, Optional, Set, Tuple

from mmengine.logging import MMLogger
from torch import Tensor


class FrozenStateMixin:
    """Keeps frozen weights out of ``state_dict`` and fills them on load.

    For an ``nn.Module`` subclass. Frozen components are the children with
    a truthy ``frozen`` attribute (e.g. :class:`HFVisionEncoder`,
    :class:`LLMHead`); every parameter with ``requires_grad=False``
    elsewhere (LoRA base weights, frozen detector stages) and the buffers of
    modules whose parameters are all frozen count too.

    Call :meth:`register_frozen_state_hooks` at the end of ``__init__``.
    ``self._sources`` maps a top-level child name to where its weights came
    from (a local path); :meth:`load_state_dict` leaves its per-key report
    in ``self.load_report``.
    """

    _sources: Dict[str, str]
    load_report: Optional[dict]
    lazy_init_weights: bool = False
    # (parts, config key, path, loader) of init-only weights not loaded yet
    _deferred: List[Tuple[Tuple[str, ...], str, str, Callable]]

    def _init_only(self, parts: Tuple[str, ...], key: str, path: str,
                   load: Callable[[str], None]) -> None:
        """Load initialisation-only weights (a detector checkpoint, a
        pretrained directory) now, or with ``lazy_init_weights`` only when
        a loaded checkpoint lacks keys of ``parts`` (see
        :meth:`_load_deferred`)."""
        if self.lazy_init_weights:
            self._deferred.append((tuple(parts), key, path, load))
        else:
            load(path)

    def _load_deferred(self, incoming: Set[str]) -> None:
        """Load the deferred weights of every part whose frozen keys the
        incoming state dict lacks; a missing source is an error naming
        it."""
        absent = [k for k in self.frozen_state_keys() if k not in incoming]
        for parts, key, path, load in list(self._deferred):
            need = [k for k in absent if k.split('.', 1)[0] in parts]
            if not need:
                continue
            if not osp.exists(path):
                raise FileNotFoundError(
                    f'model.{key} {path!r} not found: the checkpoint holds '
                    f'no weights for {len(need)} frozen keys of '
                    f'{"/".join(parts)} (e.g. {need[0]!r}; frozen parts '
                    'are kept out of checkpoints), so they must come from '
                    'it')
            load(path)
            self._deferred.remove((parts, key, path, load))

    def register_frozen_state_hooks(self) -> None:
        """Drop frozen keys on save, keep the built ones on load."""
        self._register_state_dict_hook(FrozenStateMixin._drop_frozen_hook)
        self.register_load_state_dict_pre_hook(
            FrozenStateMixin._fill_frozen_hook)

    def _frozen_components(self) -> List[str]:
        return [
            name for name, child in self.named_children()
            if getattr(child, 'frozen', False)
        ]

    def frozen_state_keys(self) -> List[str]:
        """State-dict keys kept out of checkpoints.

        Frozen components entirely, plus every frozen parameter elsewhere
        and the buffers of modules whose parameters are all frozen (e.g. BN
        statistics of frozen stages).

        Returns:
            list[str]: Keys relative to this model.
        """
        comps = tuple(c + '.' for c in self._frozen_components())
        keys = []
        # tied weights (an LLM's lm_head / embed_tokens) appear under every
        # name in the state dict
        for name, p in self.named_parameters(remove_duplicate=False):
            if name.startswith(comps) or not p.requires_grad:
                keys.append(name)
        for mod_name, mod in self.named_modules(remove_duplicate=False):
            params = list(mod.parameters(recurse=False))
            all_frozen = bool(params) and not any(p.requires_grad
                                                 for p in params)
            for buf_name, buf in mod.named_buffers(recurse=False):
                if buf_name in mod._non_persistent_buffers_set:
                    continue
                full = f'{mod_name}.{buf_name}' if mod_name else buf_name
                if all_frozen or full.startswith(comps):
                    keys.append(full)
        return keys

    @staticmethod
    def _drop_frozen_hook(module, state_dict, prefix, local_metadata):
        for key in module.frozen_state_keys():
            state_dict.pop(prefix + key, None)
        return state_dict

    def _source_of(self, key: str) -> str:
        return self._sources.get(key.split('.', 1)[0]) or 'random init'

    def _persistent_state(self) -> Dict[str, Tensor]:
        state = dict(self.named_parameters(remove_duplicate=False))
        for mod_name, mod in self.named_modules(remove_duplicate=False):
            for name, buf in mod.named_buffers(recurse=False):
                if name not in mod._non_persistent_buffers_set:
                    state[f'{mod_name}.{name}' if mod_name else name] = buf
        return state

    @staticmethod
    def _fill_frozen_hook(module, state_dict, prefix, local_metadata, strict,
                          missing_keys, unexpected_keys, error_msgs):
        incoming = {
            k[len(prefix):]
            for k in state_dict if k.startswith(prefix)
        }
        if getattr(module, '_deferred', None):
            module._load_deferred(incoming)
        current = module._persistent_state()
        frozen = set(module.frozen_state_keys())
        report = dict(checkpoint=[], kept={}, missing=[], unexpected=[])
        for key, val in current.items():
            if key in incoming:
                report['checkpoint'].append(key)
            elif key in frozen:
                # Frozen weights are not saved: keep what was loaded when
                # the model was built (pretrained directory or init).
                state_dict[prefix + key] = val.detach()
                report['kept'].setdefault(module._source_of(key),
                                          []).append(key)
            else:
                report['missing'].append(key)
        report['unexpected'] = sorted(incoming - set(current))
        module.load_report = report
        kept = {k: len(v) for k, v in report['kept'].items()}
        MMLogger.get_current_instance().info(
            f'{type(module).__name__} load: {len(report["checkpoint"])} '
            'keys from the checkpoint; frozen keys kept from their sources: '
            f'{kept}; missing: {report["missing"]}; unexpected: '
            f'{report["unexpected"]}')

    def weight_sources(self) -> Dict[str, str]:
        """Where each component's weights came from at build time.

        Returns:
            dict[str, str]: component → local path or ``'random init'``.
        """
        comps = [
            n for n, _ in self.named_children() if n != 'data_preprocessor'
        ]
        return {c: self._sources.get(c) or 'random init' for c in comps}
