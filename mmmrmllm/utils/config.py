"""Config helpers shared by the tools."""
import inspect
from typing import Optional, Set

from mmengine.config import Config

from .errors import UserError


class ConfigError(UserError):
    """A user-facing config problem; tools print it as one line."""


def load_config(path: str) -> Config:
    """``Config.fromfile`` that honours ``custom_imports`` in every config.

    MMEngine imports ``custom_imports`` for classic configs only and
    ignores it in pure-Python (``read_base()``) configs; the tools import
    it for both, so a project registers its classes either way.

    Raises:
        ConfigError: If a listed module cannot be imported (unless
            ``allow_failed_imports=True``).
    """
    cfg = Config.fromfile(path)
    custom = cfg.get('custom_imports', None)
    if custom:
        from mmengine.utils import import_modules_from_strings
        custom = dict(custom)
        try:
            import_modules_from_strings(**custom)
        except ImportError as err:
            raise ConfigError(
                f'{path}: custom_imports: cannot import '
                f'{custom.get("imports")!r} ({err}); put the folder that '
                'holds the module on PYTHONPATH') from err
    return cfg


def _registries():
    from mmengine.registry import Registry

    import mmmrmllm.registry as reg
    return [v for v in vars(reg).values() if isinstance(v, Registry)]


def accepted_keys(type_) -> Optional[Set[str]]:
    """Keyword arguments a config ``type`` accepts, following ``**kwargs``
    up its base classes; None when the type cannot be resolved.

    Args:
        type_ (str | type | callable): A config's ``type`` value, e.g.
            ``'CocoDataset'``, ``'mmdet.DINO'`` or a class.
    """
    objs = []
    if isinstance(type_, str):
        for registry in _registries():
            try:
                obj = registry.get(type_)
            except Exception:  # a scope that is not installed, ...
                obj = None
            if obj is not None:
                objs.append(obj)
    elif callable(type_):
        objs.append(type_)
    if not objs:
        return None
    names: Set[str] = set()
    for obj in objs:
        chain = obj.__mro__ if inspect.isclass(obj) else (obj, )
        for owner in chain:
            fn = owner.__dict__.get('__init__') if inspect.isclass(
                owner) else owner
            if fn is None or fn is object.__init__:
                continue
            try:
                params = inspect.signature(fn).parameters.values()
            except (TypeError, ValueError):
                break
            names.update(p.name for p in params
                         if p.kind in (p.POSITIONAL_OR_KEYWORD,
                                       p.KEYWORD_ONLY))
            if not any(p.kind == p.VAR_KEYWORD for p in params):
                break
    names.discard('self')
    for obj in objs:  # keywords a class still takes for one release
        names.update(getattr(obj, 'DEPRECATED_KEYS', ()))
    return names


def group_keys(type_, group: str) -> Set[str]:
    """The keys of a dict argument ``group`` of a config ``type`` that
    declares its groups (``GROUP_DEFAULTS``, e.g. :class:`MRMLLM`'s
    ``couplings``); empty otherwise."""
    from mmmrmllm.registry import MODELS
    obj = type_
    if isinstance(type_, str):
        try:
            obj = MODELS.get(type_)
        except Exception:  # a scope that is not installed, ...
            obj = None
    return set(getattr(obj, 'GROUP_DEFAULTS', {}).get(group, ()))


def _argument_key(parents: list, parts: list, i: int) -> bool:
    """Whether ``parts[i:]``, absent from the config below the typed node
    ``parents[-1]`` (or below its group ``parts[i - 1]``), is an argument
    of that node's class: the last part, or a group and one of its
    keys."""
    node = parents[-1]
    if not (isinstance(node, dict) and 'type' in node):
        if len(parents) > 1 and i == len(parts) - 1:
            up = parents[-2]
            return isinstance(up, dict) and 'type' in up and \
                parts[i] in group_keys(up['type'], parts[i - 1])
        return False
    if i == len(parts) - 1:
        return parts[i] in (accepted_keys(node['type']) or ())
    return i == len(parts) - 2 and \
        parts[i + 1] in group_keys(node['type'], parts[i])


def check_config(cfg: Config, options: dict) -> None:
    """Refuse ``--cfg-options`` keys that are neither in the config nor
    arguments of the class they configure.

    MMEngine's ``merge_from_dict`` silently adds unknown keys, so a typo
    (``optim_wraper.optimizer.lr=1``) would train with the default. A key
    absent from the config is accepted when it is the last part of the
    path and an argument of the parent's registered ``type`` (e.g.
    ``test_dataloader.dataset.skip_invalid=True`` for a dataset that
    takes ``skip_invalid``, ``model.detector_checkpoint=...``), its base
    classes included where ``**kwargs`` passes arguments on; so are a
    group argument's keys (``model.couplings.feedback=False``,
    :func:`group_keys`) and a class's ``DEPRECATED_KEYS``. Keys are
    dotted paths; list indices are numbers (``a.0.b``).

    Args:
        cfg (Config): The loaded config.
        options (dict): Dotted key -> value, as parsed by ``DictAction``.

    Raises:
        ConfigError: naming the first unknown key and what exists there.
    """
    for key in options:
        node = getattr(cfg, '_cfg_dict', cfg)
        walked, parents = [], [node]
        parts = key.split('.')
        for i, part in enumerate(parts):
            if isinstance(node, (list, tuple)) and part.isdigit() \
                    and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                if _argument_key(parents, parts, i):
                    break
                where = '.'.join(walked) or 'the config'
                known = sorted(node.keys()) if isinstance(node, dict) else []
                hint = f'; keys there: {", ".join(known)}' if known else ''
                if isinstance(node, dict) and 'type' in node:
                    hint += (f'; nor is {part!r} an argument of '
                             f'{node["type"]!r}')
                raise ConfigError(f'unknown config key {key!r}: no {part!r} '
                                  f'in {where}{hint}')
            walked.append(part)
            parents.append(node)


def for_inference(cfg: Config) -> Config:
    """Build ``cfg.model`` for inference from a checkpoint: models that
    take ``init.lazy_load`` (:class:`MRMLLM`; ``lazy_init_weights`` in a flat
    config of the previous release) then load their
    initialisation-only weights (``detector_checkpoint``, a pretrained
    directory's weights) only for the frozen keys a checkpoint lacks, so
    that a checkpoint holding every weight needs no other file.

    Args:
        cfg (Config): Changed in place.

    Returns:
        Config: ``cfg``.
    """
    model = cfg.get('model')
    if not isinstance(model, dict):
        return cfg
    if 'lazy_load' in group_keys(model.get('type'), 'init') and \
            'lazy_init_weights' not in model:
        model['init'] = dict(model.get('init') or {}, lazy_load=True)
    elif 'lazy_init_weights' in (accepted_keys(model.get('type')) or ()):
        model['lazy_init_weights'] = True
    return cfg
